using System.Text;
using FinanceHub.Data.Archiving;

namespace FinanceHub.Data.Tests.Archiving;

/// <summary>The blocks a parallel restore deals out: whole rows only, nothing lost, the header left out.</summary>
public sealed class CsvRowBlocksTests
{
    [Theory]
    [InlineData(16, 1)]
    [InlineData(37, 2)]
    [InlineData(1024, 3)]
    [InlineData(1 << 20, 4)]
    public async Task Blocks_are_whole_rows_whose_concatenation_is_the_file_without_its_header(int blockSize, int seed)
    {
        var (csv, rowEnds, headerEnd) = MakeCsv(new Random(seed), rows: 2000);

        var blocks = await ReadAllAsync(new CsvRowBlocks(new MemoryStream(csv), blockSize));

        Assert.Equal(csv.AsSpan(headerEnd).ToArray(), blocks.SelectMany(b => b).ToArray());
        var offset = headerEnd;
        foreach (var block in blocks)
        {
            Assert.NotEmpty(block);
            offset += block.Length;
            Assert.Contains(offset, rowEnds);
        }
    }

    [Theory]
    [InlineData(16)]
    [InlineData(4096)]
    public async Task Short_reads_and_a_last_row_without_its_line_break_lose_nothing(int blockSize)
    {
        var (csv, rowEnds, headerEnd) = MakeCsv(new Random(7), rows: 500);
        csv = csv[..^1]; // no line break after the last row
        rowEnds.Add(csv.Length);

        var blocks = await ReadAllAsync(new CsvRowBlocks(new TrickleStream(csv), blockSize));

        Assert.Equal(csv.AsSpan(headerEnd).ToArray(), blocks.SelectMany(b => b).ToArray());
        var offset = headerEnd;
        foreach (var block in blocks)
        {
            offset += block.Length;
            Assert.Contains(offset, rowEnds);
        }
    }

    [Fact]
    public async Task A_file_of_only_a_header_or_nothing_has_no_blocks()
    {
        foreach (var text in new[] { "", "a,b\n", "a,b", "\"a\nb\",c\n" })
        {
            var reader = new CsvRowBlocks(new MemoryStream(Encoding.UTF8.GetBytes(text)), 4);
            Assert.Null(await reader.NextAsync(TestContext.Current.CancellationToken));
        }
    }

    private static async Task<List<byte[]>> ReadAllAsync(CsvRowBlocks reader)
    {
        var blocks = new List<byte[]>();
        while (await reader.NextAsync(TestContext.Current.CancellationToken) is { } block)
        {
            blocks.Add(block.Buffer.AsSpan(0, block.Length).ToArray());
        }

        return blocks;
    }

    /// <summary>Hands out at most 7 bytes per read, as a decompressor may.</summary>
    private sealed class TrickleStream(byte[] data) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => base.ReadAsync(buffer[..Math.Min(buffer.Length, 7)], cancellationToken);
    }

    /// <summary>
    /// A CSV as COPY writes it, with values that hold commas, quotes, line breaks (also right at a row's start) and
    /// non-ASCII text, and the offsets where its rows end, found by a reader of its own, character by character.
    /// </summary>
    private static (byte[] Csv, HashSet<int> RowEnds, int HeaderEnd) MakeCsv(Random random, int rows)
    {
        string[] values = ["plain", "", "\"\"", "\"a,b\"", "\"say \"\"hi\"\"\"", "\"line\nbreak\"", "\"\nleading\"", "\"crlf\r\nend\"", "ünï", "\\N", "12.50000000"];
        var text = new StringBuilder("id,\"odd\nname\",c\n");
        for (var i = 0; i < rows; i++)
        {
            text.Append(i).Append(',').Append(values[random.Next(values.Length)]).Append(',')
                .Append(random.Next(50) == 0 ? new string('x', 300) : values[random.Next(values.Length)]).Append('\n');
        }

        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        var ends = new List<int>();
        var quoted = false;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == '"')
            {
                quoted = !quoted;
            }
            else if (bytes[i] == '\n' && !quoted)
            {
                ends.Add(i + 1);
            }
        }

        Assert.Equal(rows + 1, ends.Count);
        return (bytes, [.. ends.Skip(1)], ends[0]);
    }
}
