namespace FinanceHub.Data.SampleApi;

/// <summary>Names this assembly's entry point for <c>WebApplicationFactory&lt;SampleApi&gt;</c> in the tests.</summary>
public sealed class SampleApi;
