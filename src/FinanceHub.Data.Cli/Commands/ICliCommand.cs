using System.CommandLine;

namespace FinanceHub.Data.Cli.Commands;

/// <summary>One sub-command of <c>financehub-data</c>.</summary>
internal interface ICliCommand
{
    Command Build();
}
