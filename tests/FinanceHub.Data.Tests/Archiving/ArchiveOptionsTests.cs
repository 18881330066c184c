using FinanceHub.Data.Archiving;

namespace FinanceHub.Data.Tests.Archiving;

public sealed class ArchiveOptionsTests
{
    [Fact]
    public void Restore_streams_come_from_the_environment_and_a_bad_value_names_the_variable()
    {
        Assert.Equal(2, ArchiveOptions.FromEnvironment(_ => null).RestoreStreams);
        Assert.Equal(1, ArchiveOptions.FromEnvironment(name => name == "ARCHIVE_RESTORE_STREAMS" ? "1" : null).RestoreStreams);
        Assert.Equal(16, ArchiveOptions.FromEnvironment(name => name == "ARCHIVE_RESTORE_STREAMS" ? "16" : null).RestoreStreams);
        foreach (var bad in new[] { "0", "-2", "two", "17" })
        {
            var error = Assert.Throws<ArgumentException>(() => ArchiveOptions.FromEnvironment(name => name == "ARCHIVE_RESTORE_STREAMS" ? bad : null));
            Assert.Contains("ARCHIVE_RESTORE_STREAMS", error.Message, StringComparison.Ordinal);
            Assert.Contains($"'{bad}'", error.Message, StringComparison.Ordinal);
        }
    }
}
