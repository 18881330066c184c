namespace FinanceHub.Data.Tests.Infrastructure;

/// <summary>Progress reported on the caller's thread, in order (<see cref="Progress{T}"/> would post to the thread pool).</summary>
public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
