using System.Buffers.Binary;
using Npgsql;

namespace FinanceHub.Data.Infrastructure;

/// <summary>
/// Reads <c>numeric</c> columns as <see cref="decimal"/> from their wire bytes (<see cref="NpgsqlDataReader.GetBytes"/>
/// works on any column since Npgsql 8), for reads that return thousands of prices at once: a month of hourly candles
/// is 3,600 of them, and Npgsql's general numeric conversion took a quarter of such a read. Values that need more than
/// the plain path (NaN, infinities, more than 96 bits, a scale past 28, digits beyond the scale) are handed to
/// <see cref="NpgsqlDataReader.GetDecimal"/>, so every result, its scale included, is the one Npgsql gives.
/// </summary>
internal sealed class NumericReader
{
    // numeric's binary form: ndigits, weight, sign, dscale (int16 each, big-endian), then ndigits base-10000 digits.
    private const int HeaderSize = 8;
    private const int MaxDigits = 8;
    private const ushort Negative = 0x4000;
    private static readonly UInt128 MaxMantissa = (UInt128.One << 96) - 1;

    private readonly byte[] _bytes = new byte[HeaderSize + 2 * MaxDigits];
    private NpgsqlDataReader? _reader;
    private ulong _checked;
    private ulong _numeric;

    /// <summary>
    /// The value of a non-null column of the current row as a decimal: a numeric one decoded here, any other (and any
    /// column past the 64th) by <see cref="NpgsqlDataReader.GetDecimal"/>.
    /// </summary>
    public decimal Read(NpgsqlDataReader reader, int ordinal)
    {
        if (!IsNumeric(reader, ordinal))
        {
            return reader.GetDecimal(ordinal);
        }

        var length = (int)reader.GetBytes(ordinal, 0, _bytes, 0, _bytes.Length);
        return TryDecode(_bytes.AsSpan(0, length), out var value) ? value : reader.GetDecimal(ordinal);
    }

    /// <summary>Whether the column is numeric, looked up once per reader and column.</summary>
    private bool IsNumeric(NpgsqlDataReader reader, int ordinal)
    {
        if (ordinal is < 0 or > 63)
        {
            return false;
        }

        if (!ReferenceEquals(reader, _reader))
        {
            (_reader, _checked, _numeric) = (reader, 0, 0);
        }

        var bit = 1UL << ordinal;
        if ((_checked & bit) == 0)
        {
            _checked |= bit;
            if (reader.GetDataTypeName(ordinal) == "numeric")
            {
                _numeric |= bit;
            }
        }

        return (_numeric & bit) != 0;
    }

    /// <summary>Decodes numeric's binary form; false for anything the plain path does not cover.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> bytes, out decimal value)
    {
        value = 0;
        if (bytes.Length < HeaderSize)
        {
            return false;
        }

        var digits = BinaryPrimitives.ReadInt16BigEndian(bytes);
        var weight = BinaryPrimitives.ReadInt16BigEndian(bytes[2..]);
        var sign = BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]);
        var scale = BinaryPrimitives.ReadInt16BigEndian(bytes[6..]);
        if (digits is < 0 or > MaxDigits || bytes.Length != HeaderSize + 2 * digits || sign is not (0 or Negative) || scale is < 0 or > 28)
        {
            return false;
        }

        // All digits as one integer, worth 10000^(weight - digits + 1) each; then scaled to 10^-scale.
        UInt128 mantissa = 0;
        for (var i = 0; i < digits; i++)
        {
            var digit = BinaryPrimitives.ReadInt16BigEndian(bytes[(HeaderSize + 2 * i)..]);
            if (digit is < 0 or > 9999)
            {
                return false;
            }

            mantissa = mantissa * 10000 + (ulong)digit;
        }

        var exponent = digits == 0 ? 0 : 4 * (weight - digits + 1) + scale;
        for (; exponent > 0; exponent--)
        {
            if (mantissa > MaxMantissa / 10)
            {
                return false;
            }

            mantissa *= 10;
        }

        for (; exponent < 0; exponent++)
        {
            // Digits past the scale are zero in what PostgreSQL sends; anything else goes the general way.
            var (quotient, remainder) = UInt128.DivRem(mantissa, 10);
            if (remainder != 0)
            {
                return false;
            }

            mantissa = quotient;
        }

        if (mantissa > MaxMantissa || (mantissa == 0 && sign == Negative))
        {
            return false;
        }

        value = new decimal((int)(uint)mantissa, (int)(uint)(mantissa >> 32), (int)(uint)(mantissa >> 64), sign == Negative, (byte)scale);
        return true;
    }
}
