using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace FinanceHub.Data.Querying.Sessions;

/// <summary>
/// A calendar written in configuration (<c>FinanceHub:Calendars:&lt;name&gt;</c>): its zone, hours, weekend, holiday rules
/// and early closes, in the text form of <see cref="CalendarRule.Parse"/>.
/// </summary>
public sealed class CalendarDefinition
{
    /// <summary>IANA time zone, e.g. Asia/Tokyo.</summary>
    public string TimeZone { get; set; } = "";

    /// <summary>Regular open, local time (09:00).</summary>
    public string Open { get; set; } = "";

    /// <summary>Regular close, local time (15:30).</summary>
    public string Close { get; set; } = "";

    /// <summary>Days without sessions (default Saturday and Sunday).</summary>
    public List<DayOfWeek> Weekend { get; set; } = [];

    /// <summary>Holiday rules: <c>01-01 nearest-weekday</c>, <c>3rd Monday 01</c>, <c>easter -2</c>, <c>2026-06-08</c>...</summary>
    public List<string> Holidays { get; set; } = [];

    /// <summary>Early closes: a rule and the close, <c>12-24 @ 13:00</c>.</summary>
    public List<string> EarlyCloses { get; set; } = [];
}

/// <summary>
/// The calendars by name: those shipped (<see cref="Xnys"/>, <see cref="Xlon"/>, <see cref="Xetr"/>) and those defined
/// in configuration under <c>FinanceHub:Calendars</c>, which may also replace a shipped one.
/// </summary>
public sealed class ExchangeCalendars
{
    /// <summary>The configuration section of calendar definitions.</summary>
    public const string SectionName = "FinanceHub:Calendars";

    private readonly Dictionary<string, ExchangeCalendar> _calendars = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>New York Stock Exchange: 09:30-16:00 America/New_York; early closes at 13:00.</summary>
    public static ExchangeCalendar Xnys { get; } = Define("XNYS", new CalendarDefinition
    {
        TimeZone = "America/New_York", Open = "09:30", Close = "16:00",
        Holidays =
        [
            "01-01 sunday-to-monday", "3rd Monday 01", "3rd Monday 02", "easter -2", "last Monday 05", "06-19 nearest-weekday from 2022",
            "07-04 nearest-weekday", "1st Monday 09", "4th Thursday 11", "12-25 nearest-weekday", "2025-01-09",
        ],
        EarlyCloses = ["07-03 @ 13:00", "4th Thursday 11 +1 @ 13:00", "12-24 @ 13:00"],
    });

    /// <summary>London Stock Exchange: 08:00-16:30 Europe/London; early closes at 12:30 on Christmas and New Year's Eve.</summary>
    public static ExchangeCalendar Xlon { get; } = Define("XLON", new CalendarDefinition
    {
        TimeZone = "Europe/London", Open = "08:00", Close = "16:30",
        Holidays =
        [
            "01-01 next-monday", "easter -2", "easter 1", "1st Monday 05 until 2019", "2020-05-08", "1st Monday 05 from 2021",
            "last Monday 05 until 2021", "2022-06-02", "2022-06-03", "last Monday 05 from 2023", "2022-09-19", "2023-05-08",
            "last Monday 08", "12-25 two-days-later", "12-26 two-days-later",
        ],
        EarlyCloses = ["12-24 previous-friday @ 12:30", "12-31 previous-friday @ 12:30"],
    });

    /// <summary>Xetra (Frankfurt): 09:00-17:30 Europe/Berlin; 14:00 on the last weekday before New Year's Eve.</summary>
    public static ExchangeCalendar Xetr { get; } = Define("XETR", new CalendarDefinition
    {
        TimeZone = "Europe/Berlin", Open = "09:00", Close = "17:30",
        Holidays = ["01-01", "easter -2", "easter 1", "05-01", "12-24", "12-25", "12-26", "12-31"],
        EarlyCloses = ["12-30 previous-friday @ 14:00"],
    });

    /// <summary>The shipped calendars, and those in <paramref name="configuration"/>'s <see cref="SectionName"/> section.</summary>
    public ExchangeCalendars(IConfiguration? configuration = null)
    {
        foreach (var calendar in new[] { Xnys, Xlon, Xetr })
        {
            _calendars[calendar.Name] = calendar;
        }

        foreach (var section in configuration?.GetSection(SectionName).GetChildren() ?? [])
        {
            _calendars[section.Key] = Define(section.Key, section.Get<CalendarDefinition>() ?? new CalendarDefinition());
        }
    }

    /// <summary>The names known.</summary>
    public IEnumerable<string> Names => _calendars.Keys.Order(StringComparer.Ordinal);

    /// <summary>The calendar named <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No calendar has that name.</exception>
    public ExchangeCalendar Get(string name)
        => _calendars.TryGetValue(name?.Trim() ?? "", out var calendar)
            ? calendar
            : throw new ArgumentException($"There is no trading calendar '{name}'; known: {string.Join(", ", Names)}. Define others under {SectionName}.", nameof(name));

    /// <summary>Builds a calendar from its definition.</summary>
    /// <exception cref="ArgumentException">A time, zone or rule that cannot be read; the message names it.</exception>
    public static ExchangeCalendar Define(string name, CalendarDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var (open, close) = (Time(definition.Open, "open"), Time(definition.Close, "close"));
        var earlyCloses = definition.EarlyCloses.Select(text =>
        {
            var parts = text.Split('@', StringSplitOptions.TrimEntries);
            var time = parts.Length == 2
                ? Time(parts[1], $"early close '{text}'")
                : throw new ArgumentException($"Calendar {name}: early close '{text}' must be a rule and a time, e.g. '12-24 @ 13:00'.", nameof(definition));
            return time > open && time < close
                ? (CalendarRule.Parse(parts[0]), time)
                : throw new ArgumentException($"Calendar {name}: early close '{text}' must be after the open ({open:HH\\:mm}) and before the close ({close:HH\\:mm}).", nameof(definition));
        }).ToList();
        return new ExchangeCalendar(name, definition.TimeZone, open, close,
            definition.Weekend.Count > 0 ? definition.Weekend : [DayOfWeek.Saturday, DayOfWeek.Sunday],
            definition.Holidays.Select(CalendarRule.Parse), earlyCloses);

        TimeOnly Time(string text, string what)
            => TimeOnly.TryParseExact(text, ["HH:mm", "HH:mm:ss"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var time)
                ? time
                : throw new ArgumentException($"Calendar {name}: the {what} '{text}' is not a time of day (HH:mm).", nameof(definition));
    }
}
