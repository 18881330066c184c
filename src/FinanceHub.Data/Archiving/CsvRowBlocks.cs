using System.Buffers;

namespace FinanceHub.Data.Archiving;

/// <summary>
/// Cuts a CSV byte stream, as PostgreSQL's COPY writes it, into blocks of whole rows (about <see cref="BlockSize"/>
/// bytes each), without its header line: blocks that can go to different COPY streams in any order. A line break
/// inside a quoted value is not a row end; quotes are counted from the start, so the stream must start at a row.
/// </summary>
/// <remarks>Blocks are rented from <see cref="ArrayPool{T}.Shared"/>; whoever takes one returns it.</remarks>
internal sealed class CsvRowBlocks(Stream csv, int blockSize = CsvRowBlocks.BlockSize)
{
    public const int BlockSize = 1 << 20;

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(blockSize);
    private int _filled;
    private bool _headerSkipped;
    private bool _ended;

    /// <summary>The next block (whole rows; the last one may lack its final line break), or null at the end.</summary>
    public async ValueTask<(byte[] Buffer, int Length)?> NextAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            while (!_ended && _filled < _buffer.Length)
            {
                var read = await csv.ReadAsync(_buffer.AsMemory(_filled), cancellationToken);
                _ended = read == 0;
                _filled += read;
            }

            var start = 0;
            if (!_headerSkipped)
            {
                var header = RowEnd(_buffer.AsSpan(0, _filled), first: true);
                if (header < 0 && !_ended)
                {
                    Grow();
                    continue;
                }

                start = header < 0 ? _filled : header;
                _headerSkipped = true;
            }

            var end = _ended ? _filled : RowEnd(_buffer.AsSpan(start, _filled - start), first: false) is var cut and >= 0 ? start + cut : -1;
            if (end < 0)
            {
                // One row longer than the buffer: take more of it.
                Shift(start);
                Grow();
                continue;
            }

            if (end == start)
            {
                if (_ended)
                {
                    ArrayPool<byte>.Shared.Return(_buffer);
                    _buffer = [];
                    _filled = 0;
                    return null;
                }

                Shift(start);
                continue;
            }

            // Hand this buffer over and carry what follows its last row into a new one.
            var block = _buffer;
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(blockSize, _filled - end));
            _filled -= end;
            block.AsSpan(end, _filled).CopyTo(_buffer);
            if (start > 0)
            {
                block.AsSpan(start, end - start).CopyTo(block);
            }

            return (block, end - start);
        }
    }

    /// <summary>
    /// The index after the first (<paramref name="first"/>) or the last line break of <paramref name="text"/> that is
    /// outside quotes, counting quotes from its start; -1 when there is none.
    /// </summary>
    internal static int RowEnd(ReadOnlySpan<byte> text, bool first)
    {
        if (!first && !text.Contains((byte)'"'))
        {
            return text.LastIndexOf((byte)'\n') is var last and >= 0 ? last + 1 : -1;
        }

        var found = -1;
        var quoted = false;
        var i = 0;
        while (i < text.Length)
        {
            var next = text[i..].IndexOfAny((byte)'"', (byte)'\n');
            if (next < 0)
            {
                break;
            }

            i += next;
            if (text[i] == '"')
            {
                quoted = !quoted;
            }
            else if (!quoted)
            {
                found = i + 1;
                if (first)
                {
                    break;
                }
            }

            i++;
        }

        return found;
    }

    private void Shift(int start)
    {
        if (start > 0)
        {
            _buffer.AsSpan(start, _filled - start).CopyTo(_buffer);
            _filled -= start;
        }
    }

    private void Grow()
    {
        var larger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
        _buffer.AsSpan(0, _filled).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }
}
