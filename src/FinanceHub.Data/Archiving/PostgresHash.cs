using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FinanceHub.Data.Archiving;

/// <summary>
/// PostgreSQL's 64-bit byte hash, <c>hash_bytes_extended</c> (Bob Jenkins' lookup3, src/common/hashfn.c), as
/// <c>hashtextextended(text COLLATE "C", seed)</c> returns it on a little-endian server. PostgreSQL keeps it stable across
/// releases (hash partitions depend on it); a big-endian server computes other values, which
/// <see cref="ContentChecksum.ServerAgreesAsync"/> detects before an export relies on it.
/// </summary>
internal static class PostgresHash
{
    /// <summary>The hash of <paramref name="key"/>, as the signed bigint the SQL function returns.</summary>
    public static long HashBytesExtended(ReadOnlySpan<byte> key, ulong seed = 0)
    {
        uint a, b, c;
        a = b = c = 0x9e3779b9u + (uint)key.Length + 3923095u;
        if (seed != 0)
        {
            // The seed counts as one more 12-byte block, its last four bytes zero.
            a += (uint)(seed >> 32);
            b += (uint)seed;
            Mix(ref a, ref b, ref c);
        }

        ref var start = ref MemoryMarshal.GetReference(key);
        var offset = 0;
        for (; key.Length - offset >= 12; offset += 12)
        {
            a += Word(ref start, offset);
            b += Word(ref start, offset + 4);
            c += Word(ref start, offset + 8);
            Mix(ref a, ref b, ref c);
        }

        key = key[offset..];

        // The last 0-11 bytes, as little-endian words; the lowest byte of c is left for the length (already added).
        switch (key.Length)
        {
            case 11: c += (uint)key[10] << 24; goto case 10;
            case 10: c += (uint)key[9] << 16; goto case 9;
            case 9: c += (uint)key[8] << 8; goto case 8;
            case 8: b += (uint)key[7] << 24; goto case 7;
            case 7: b += (uint)key[6] << 16; goto case 6;
            case 6: b += (uint)key[5] << 8; goto case 5;
            case 5: b += key[4]; goto case 4;
            case 4: a += (uint)key[3] << 24; goto case 3;
            case 3: a += (uint)key[2] << 16; goto case 2;
            case 2: a += (uint)key[1] << 8; goto case 1;
            case 1: a += key[0]; break;
        }

        Final(ref a, ref b, ref c);
        return (long)(((ulong)b << 32) | c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Word(ref byte start, int offset)
    {
        var word = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, offset));
        return BitConverter.IsLittleEndian ? word : BinaryPrimitives.ReverseEndianness(word);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Mix(ref uint a, ref uint b, ref uint c)
    {
        a -= c; a ^= BitOperations.RotateLeft(c, 4); c += b;
        b -= a; b ^= BitOperations.RotateLeft(a, 6); a += c;
        c -= b; c ^= BitOperations.RotateLeft(b, 8); b += a;
        a -= c; a ^= BitOperations.RotateLeft(c, 16); c += b;
        b -= a; b ^= BitOperations.RotateLeft(a, 19); a += c;
        c -= b; c ^= BitOperations.RotateLeft(b, 4); b += a;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Final(ref uint a, ref uint b, ref uint c)
    {
        c ^= b; c -= BitOperations.RotateLeft(b, 14);
        a ^= c; a -= BitOperations.RotateLeft(c, 11);
        b ^= a; b -= BitOperations.RotateLeft(a, 25);
        c ^= b; c -= BitOperations.RotateLeft(b, 16);
        a ^= c; a -= BitOperations.RotateLeft(c, 4);
        b ^= a; b -= BitOperations.RotateLeft(a, 14);
        c ^= b; c -= BitOperations.RotateLeft(b, 24);
    }
}
