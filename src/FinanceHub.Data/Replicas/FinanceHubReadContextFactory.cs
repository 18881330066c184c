using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace FinanceHub.Data.Replicas;

/// <summary>
/// <see cref="FinanceHubDbContext"/>s for reading: on the read endpoint when it is up and fresh enough, else on the
/// primary; no change tracking, and SaveChanges refuses. Without a read endpoint they read the primary.
/// </summary>
public interface IFinanceHubReadContextFactory
{
    /// <summary>A read-only context; <paramref name="maxStaleness"/> as in <see cref="Querying.OhlcvOptions.MaxStaleness"/>.</summary>
    Task<FinanceHubDbContext> CreateAsync(TimeSpan? maxStaleness = null, CancellationToken cancellationToken = default);
}

/// <inheritdoc />
public sealed class FinanceHubReadContextFactory(ReplicaRouter router) : IFinanceHubReadContextFactory
{
    /// <inheritdoc />
    public async Task<FinanceHubDbContext> CreateAsync(TimeSpan? maxStaleness = null, CancellationToken cancellationToken = default)
    {
        var route = await router.ChooseAsync(maxStaleness, cancellationToken);
        var builder = new DbContextOptionsBuilder<FinanceHubDbContext>();
        builder.UseFinanceHubNpgsql(route.DataSource)
            .UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking)
            .AddInterceptors(ReadOnlyInterceptor.Instance);
        return new FinanceHubDbContext(builder.Options);
    }

    private sealed class ReadOnlyInterceptor : SaveChangesInterceptor
    {
        public static readonly ReadOnlyInterceptor Instance = new();

        private const string Message =
            "This context is for reads (IFinanceHubReadContextFactory, possibly on a read replica); write through FinanceHubDbContext, which uses the primary.";

        public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result) => throw new InvalidOperationException(Message);

        public override ValueTask<InterceptionResult<int>> SavingChangesAsync(
            DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException(Message);
    }
}
