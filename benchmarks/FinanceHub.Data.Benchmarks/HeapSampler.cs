namespace FinanceHub.Data.Benchmarks;

/// <summary>Samples the managed heap every 50 ms.</summary>
internal sealed class HeapSampler : IDisposable
{
    private readonly Timer _timer;
    private long _peak;

    public HeapSampler() => _timer = new Timer(_ => Interlocked.Exchange(ref _peak, Math.Max(Interlocked.Read(ref _peak), GC.GetTotalMemory(false))), null, 0, 50);

    public long TakePeak()
    {
        var peak = Interlocked.Exchange(ref _peak, 0);
        return Math.Max(peak, GC.GetTotalMemory(false));
    }

    public void Dispose() => _timer.Dispose();
}
