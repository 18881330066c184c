using System.Globalization;

namespace FinanceHub.Data.Querying.Sessions;

/// <summary>One trading session: the local date it belongs to and its open and close instants.</summary>
/// <param name="Date">The session's date in the exchange's time zone.</param>
/// <param name="Open">The open, an instant.</param>
/// <param name="Close">The close, an instant (exclusive: rows at the close belong to no session).</param>
/// <param name="IsEarlyClose">The exchange closes early that day.</param>
public sealed record TradingSession(DateOnly Date, DateTimeOffset Open, DateTimeOffset Close, bool IsEarlyClose = false);

/// <summary>
/// An exchange's trading calendar, defined by its rules: a time zone, the regular open and close, the weekend, holidays
/// (fixed dates with their observance, n-th weekdays, days relative to Easter, single dates) and early closes. Shipped
/// calendars are in <see cref="ExchangeCalendars"/>; others are made from configuration (<see cref="CalendarDefinition"/>).
/// </summary>
public sealed class ExchangeCalendar
{
    private readonly IReadOnlyList<CalendarRule> _holidays;
    private readonly IReadOnlyList<(CalendarRule Rule, TimeOnly Close)> _earlyCloses;

    /// <summary>Creates a calendar.</summary>
    public ExchangeCalendar(
        string name, string timeZone, TimeOnly open, TimeOnly close, IEnumerable<DayOfWeek> weekend,
        IEnumerable<CalendarRule> holidays, IEnumerable<(CalendarRule Rule, TimeOnly Close)> earlyCloses)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (close <= open)
        {
            throw new ArgumentException($"Calendar {name}: the close ({close}) must be after the open ({open}); sessions across midnight are not supported.", nameof(close));
        }

        Name = name;
        TimeZoneId = timeZone;
        Zone = TimeZoneInfo.TryFindSystemTimeZoneById(timeZone, out var zone)
            ? zone
            : throw new ArgumentException($"Calendar {name}: unknown time zone '{timeZone}'; use an IANA name such as America/New_York.", nameof(timeZone));
        OpenTime = open;
        CloseTime = close;
        Weekend = new HashSet<DayOfWeek>(weekend);
        _holidays = [.. holidays];
        _earlyCloses = [.. earlyCloses];
    }

    /// <summary>The calendar's name (an exchange's MIC, such as XNYS).</summary>
    public string Name { get; }

    /// <summary>The IANA time zone of its sessions.</summary>
    public string TimeZoneId { get; }

    /// <summary>The time zone of its sessions.</summary>
    public TimeZoneInfo Zone { get; }

    /// <summary>The regular open, local time.</summary>
    public TimeOnly OpenTime { get; }

    /// <summary>The regular close, local time.</summary>
    public TimeOnly CloseTime { get; }

    /// <summary>Days without sessions every week.</summary>
    public IReadOnlySet<DayOfWeek> Weekend { get; }

    /// <summary>Whether <paramref name="date"/> is a holiday (not counting weekends).</summary>
    public bool IsHoliday(DateOnly date) => _holidays.Any(rule => rule.Matches(date));

    /// <summary>The session on <paramref name="date"/>, or null when the exchange is closed that day.</summary>
    public TradingSession? Session(DateOnly date)
    {
        if (Weekend.Contains(date.DayOfWeek) || IsHoliday(date))
        {
            return null;
        }

        // An early close before the open would leave no session, one after the regular close would lengthen it: neither counts.
        var early = _earlyCloses.Where(e => e.Rule.Matches(date) && e.Close > OpenTime && e.Close < CloseTime).Select(e => (TimeOnly?)e.Close).Min();
        return new TradingSession(date, Instant(date, OpenTime), Instant(date, early ?? CloseTime), early is not null);
    }

    /// <summary>Sessions that overlap [<paramref name="start"/>, <paramref name="end"/>), oldest first.</summary>
    public IEnumerable<TradingSession> Sessions(DateTimeOffset start, DateTimeOffset end)
    {
        var first = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(start, Zone).DateTime).AddDays(-1);
        var last = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(end, Zone).DateTime).AddDays(1);
        for (var date = first; date <= last; date = date.AddDays(1))
        {
            if (Session(date) is { } session && session.Close > start && session.Open < end)
            {
                yield return session;
            }
        }
    }

    private DateTimeOffset Instant(DateOnly date, TimeOnly time)
    {
        var local = date.ToDateTime(time, DateTimeKind.Unspecified);
        // A wall time that a clock change skips is read with the offset in force before the change, as PostgreSQL reads
        // it (02:30 on a spring-forward night in New York is 07:30 UTC, shown as 03:30).
        var offset = Zone.IsInvalidTime(local) ? Zone.GetUtcOffset(local.AddHours(-3)) : Zone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset).ToUniversalTime();
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} ({TimeZoneId} {OpenTime:HH\\:mm}-{CloseTime:HH\\:mm})");
}
