using System.Globalization;
using FinanceHub.Data.Infrastructure;
using FinanceHub.Data.Tests.Infrastructure;
using Npgsql;

namespace FinanceHub.Data.Tests.Querying;

/// <summary>
/// The numeric reader of the candle reads against Npgsql's own conversion (the oracle) over values the server makes:
/// every scale up to 28 (past it in the failure cases), magnitudes from 1e-28 to decimal's limit and beyond, zeros, NaN and infinities.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class NumericReaderTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Every_value_and_its_scale_are_what_Npgsql_reads()
    {
        await using var connection = await fixture.DataSource.OpenConnectionAsync(Ct);
        await using (var seed = new NpgsqlCommand("SELECT setseed(0.20261203)", connection))
        {
            await seed.ExecuteNonQueryAsync(Ct);
        }

        await using var command = new NpgsqlCommand(
            """
            SELECT v FROM (
              SELECT round(((random() - 0.5) * 10 ^ (random() * (28 - s)))::numeric, s) AS v
              FROM generate_series(0, 28) s, generate_series(1, 300) n
              UNION ALL
              SELECT unnest(ARRAY[0, 0.0, 0.00000000, -0.5, 1, -1, 10000, 9999.9999, 100000000, 0.0001, 0.00000001, 1e-28, -1e-28,
                                  99999999999.99999999, 123456.12345678, 100.50000000, 1e20, 1e27, 79228162514264337593543950335,
                                  -79228162514264337593543950335, 7922816251426433759354395033.5, 1.0000000000000000000000000001,
                                  12345678901234567890123456.78]::numeric[])
              UNION ALL
              SELECT (n::numeric / 7)::numeric(20,8) FROM generate_series(-500, 500) n
            ) values
            """, connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var numerics = new NumericReader();
        var compared = 0;
        while (await reader.ReadAsync(Ct))
        {
            var expected = reader.GetDecimal(0);
            var actual = numerics.Read(reader, 0);
            Assert.Equal(expected.ToString(CultureInfo.InvariantCulture), actual.ToString(CultureInfo.InvariantCulture));
            compared++;
        }

        Assert.True(compared > 9000, $"{compared} values");
    }

    [Theory]
    [InlineData("'NaN'::numeric")]
    [InlineData("'Infinity'::numeric")]
    [InlineData("'-Infinity'::numeric")]
    [InlineData("round(1::numeric / 3, 40)")]
    [InlineData("79228162514264337593543950336::numeric")]
    [InlineData("round(1::numeric / 3, 30)")]
    public async Task What_decimal_cannot_hold_fails_as_Npgsql_fails(string value)
    {
        await using var connection = await fixture.DataSource.OpenConnectionAsync(Ct);
        await using var command = new NpgsqlCommand($"SELECT {value}", connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        await reader.ReadAsync(Ct);
        var npgsql = Record.Exception(() => reader.GetDecimal(0));
        var ours = Record.Exception(() => new NumericReader().Read(reader, 0));

        Assert.Equal(npgsql?.GetType(), ours?.GetType());
        if (npgsql is null)
        {
            Assert.Equal(reader.GetDecimal(0).ToString(CultureInfo.InvariantCulture), new NumericReader().Read(reader, 0).ToString(CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public async Task Columns_of_other_types_are_read_by_Npgsql_not_decoded_as_numeric()
    {
        await using var connection = await fixture.DataSource.OpenConnectionAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT 5::bigint, 12.5::numeric, 7::int", connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        await reader.ReadAsync(Ct);
        var numerics = new NumericReader();

        Assert.Equal([5m, 12.5m, 7m], [numerics.Read(reader, 0), numerics.Read(reader, 1), numerics.Read(reader, 2)]);
        Assert.Equal("5", numerics.Read(reader, 0).ToString(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Decoding_declines_what_the_plain_path_does_not_cover()
    {
        // ndigits 1, weight 0, NaN sign; a digit above 9999; a digit past the scale (0.15 with scale 1); negative zero.
        Assert.False(NumericReader.TryDecode([0, 1, 0, 0, 0xC0, 0, 0, 0, 0, 1], out _));
        Assert.False(NumericReader.TryDecode([0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10], out _));
        Assert.False(NumericReader.TryDecode([0, 1, 0xFF, 0xFF, 0, 0, 0, 1, 0x05, 0xDC], out _));
        Assert.False(NumericReader.TryDecode([0, 0, 0, 0, 0x40, 0, 0, 0], out _));
        Assert.True(NumericReader.TryDecode([0, 1, 0xFF, 0xFF, 0, 0, 0, 2, 0x05, 0xDC], out var value));
        Assert.Equal("0.15", value.ToString(CultureInfo.InvariantCulture));
    }
}
