using System.Buffers;
using System.IO.Compression;
using System.Threading.Channels;

namespace FinanceHub.Data.Archiving;

/// <summary>
/// Gzip compression of a stream in blocks, several blocks at once (as pigz does): each block becomes one gzip member,
/// and members are written in order. A file of concatenated members is one valid gzip file (RFC 1952), which gzip,
/// .NET's GZipStream, PostgreSQL's tools, DuckDB and Athena all read.
/// </summary>
internal static class ParallelGzip
{
    private const int BlockSize = 4 << 20;

    /// <summary>
    /// zlib-ng's level 2 (.NET's zlib): about the speed of <c>gzip -1</c> and a smaller file; its level 1 (what
    /// <see cref="CompressionLevel.Fastest"/> means) is a little faster but a third larger.
    /// </summary>
    public const int Level = 2;

    /// <summary>
    /// Compresses everything <paramref name="source"/> holds into <paramref name="destination"/>; returns the count of
    /// newline bytes, and tells <paramref name="written"/> that count as of each block written. With
    /// <paramref name="csvRows"/>, the source is CSV as COPY writes it: blocks end at row ends, and each block's rows are
    /// added to that checksum on the thread that compresses it.
    /// </summary>
    public static async Task<long> CompressAsync(
        Stream source, Stream destination, int degree, ContentChecksum.CsvLines? csvRows, Action<long>? written, CancellationToken cancellationToken)
    {
        var pending = Channel.CreateBounded<(Task<(byte[] Buffer, int Length)> Block, long Lines)>(
            new BoundedChannelOptions(degree) { SingleReader = true, SingleWriter = true });
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        long lines = 0;
        var write = Task.Run(async () =>
        {
            try
            {
                await foreach (var (block, linesSoFar) in pending.Reader.ReadAllAsync(failed.Token))
                {
                    var (buffer, length) = await block;
                    try
                    {
                        await destination.WriteAsync(buffer.AsMemory(0, length), failed.Token);
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                    }

                    written?.Invoke(linesSoFar);
                }
            }
            catch
            {
                await failed.CancelAsync();
                throw;
            }
        }, CancellationToken.None);

        try
        {
            var block = ArrayPool<byte>.Shared.Rent(BlockSize);
            var filled = 0;
            var first = true;
            while (true)
            {
                var room = block.Length - filled;
                var read = await source.ReadAtLeastAsync(block.AsMemory(filled, room), room, throwOnEndOfStream: false, failed.Token);
                filled += read;
                var ended = read < room;
                var cut = ended || csvRows is null ? filled : CsvRowBlocks.RowEnd(block.AsSpan(0, filled), first: false);
                if (cut <= 0 && !ended)
                {
                    // One row longer than the block: read the rest of it into a larger one.
                    var larger = ArrayPool<byte>.Shared.Rent(block.Length * 2);
                    block.AsSpan(0, filled).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(block);
                    block = larger;
                    continue;
                }

                if (cut == 0)
                {
                    ArrayPool<byte>.Shared.Return(block);
                    break;
                }

                // What follows the block's last row starts the next block.
                var rest = filled - cut;
                var next = ended ? null : ArrayPool<byte>.Shared.Rent(Math.Max(BlockSize, 2 * rest));
                if (next is not null)
                {
                    block.AsSpan(cut, rest).CopyTo(next);
                }

                lines += block.AsSpan(0, cut).Count((byte)'\n');
                var (full, length, isFirst) = (block, cut, first);
                await pending.Writer.WriteAsync((Task.Run(() =>
                {
                    csvRows?.Add(full.AsSpan(0, length), isFirst);
                    return Compress(full, length);
                }, failed.Token), lines), failed.Token);
                if (next is null)
                {
                    break;
                }

                (block, filled, first) = (next, rest, false);
            }

            pending.Writer.Complete();
        }
        catch (Exception ex)
        {
            pending.Writer.TryComplete(ex);
            await failed.CancelAsync();
            await write.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

            // When the writing side failed first (a full disk), its error is the one to report, not the cancellation it caused.
            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested && write.Exception?.InnerException is { } cause)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cause);
            }

            throw;
        }

        await write;
        return lines;
    }

    private static (byte[] Buffer, int Length) Compress(byte[] block, int length)
    {
        try
        {
            using var output = new PooledBuffer(length / 2 + 4096);
            using (var gzip = new GZipStream(output, new ZLibCompressionOptions { CompressionLevel = Level }, leaveOpen: true))
            {
                gzip.Write(block, 0, length);
            }

            return output.Detach();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(block);
        }
    }

    /// <summary>A growable write-only stream over pooled arrays, whose buffer is handed on rather than copied.</summary>
    private sealed class PooledBuffer(int capacity) : Stream
    {
        private byte[] _buffer = ArrayPool<byte>.Shared.Rent(capacity);
        private int _length;

        public (byte[] Buffer, int Length) Detach()
        {
            var result = (_buffer, _length);
            _buffer = [];
            return result;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (_length + buffer.Length > _buffer.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + buffer.Length));
                _buffer.AsSpan(0, _length).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = larger;
            }

            buffer.CopyTo(_buffer.AsSpan(_length));
            _length += buffer.Length;
        }

        public override void Flush()
        {
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _length;

        public override long Position { get => _length; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (_buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = [];
            }

            base.Dispose(disposing);
        }
    }
}
