using FinanceHub.Data.Cli;

return await CliApplication.RunAsync(args, Console.Out, Console.Error, interactive: !Console.IsOutputRedirected);
