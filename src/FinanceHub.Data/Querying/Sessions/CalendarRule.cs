using System.Globalization;

namespace FinanceHub.Data.Querying.Sessions;

/// <summary>What happens to a fixed-date holiday that falls on a weekend.</summary>
public enum Observance
{
    /// <summary>Nothing: the holiday is lost.</summary>
    None,

    /// <summary>Saturday moves to Friday, Sunday to Monday (US practice).</summary>
    NearestWeekday,

    /// <summary>Sunday moves to Monday; Saturday is lost (NYSE's New Year's Day never moves back into the old year).</summary>
    SundayToMonday,

    /// <summary>Saturday and Sunday move to the next Monday (UK New Year's Day).</summary>
    NextMonday,

    /// <summary>Saturday and Sunday move two days on (UK Christmas and Boxing Day: their substitutes are Monday and Tuesday).</summary>
    TwoDaysLater,

    /// <summary>Saturday and Sunday move back to the Friday (LSE's early closes on Christmas and New Year's Eve).</summary>
    PreviousFriday,
}

/// <summary>
/// A rule that names days: a fixed date with its weekend observance, the n-th (or last) weekday of a month, a day
/// relative to Easter Sunday, or one date. Written in configuration as text (<see cref="Parse"/>).
/// </summary>
public abstract record CalendarRule
{
    /// <summary>First year the rule applies (inclusive); null for always.</summary>
    public int? FromYear { get; init; }

    /// <summary>Last year the rule applies (inclusive).</summary>
    public int? ToYear { get; init; }

    /// <summary>Days added to each day the rule names (the day after Thanksgiving: the 4th Thursday of November, +1).</summary>
    public int ShiftDays { get; init; }

    /// <summary>Whether the rule names <paramref name="date"/>.</summary>
    public bool Matches(DateOnly date) => Days(date.Year).Concat(Days(date.Year + 1)).Concat(Days(date.Year - 1)).Contains(date);

    /// <summary>The days the rule names in <paramref name="year"/> (observed days can fall in the next or previous year).</summary>
    public IEnumerable<DateOnly> Days(int year)
        => (FromYear is null || year >= FromYear) && (ToYear is null || year <= ToYear) ? DaysOf(year).Select(d => d.AddDays(ShiftDays)) : [];

    /// <summary>The rule's days in <paramref name="year"/>, before the year limits.</summary>
    protected abstract IEnumerable<DateOnly> DaysOf(int year);

    /// <summary>
    /// Reads a rule: <c>01-01</c> or <c>12-25 nearest-weekday</c> (a fixed date, observance none, nearest-weekday,
    /// sunday-to-monday, next-monday, two-days-later or previous-friday), <c>3rd Monday 01</c> / <c>last Monday 05</c>, <c>easter -2</c>,
    /// <c>2026-06-08</c>; any of them may be followed by a shift in days (<c>4th Thursday 11 +1</c>), then by
    /// <c>from 2022</c> and/or <c>until 2030</c>.
    /// </summary>
    public static CalendarRule Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        var words = text.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        int? from = null, to = null;
        var shift = 0;
        for (var i = words.Count - 2; i >= 0; i--)
        {
            if (words[i] is "from" or "until" && int.TryParse(words[i + 1], CultureInfo.InvariantCulture, out var year))
            {
                if (words[i] == "from")
                {
                    from = year;
                }
                else
                {
                    to = year;
                }

                words.RemoveRange(i, 2);
            }
        }

        if (words.Count > 1 && words[^1] is ['+' or '-', ..] sign && int.TryParse(sign, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var shiftBy)
            && words[0] != "easter")
        {
            shift = shiftBy;
            words.RemoveAt(words.Count - 1);
        }

        CalendarRule rule = words switch
        {
            [var date] when DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day) => new SingleDate(day),
            [var md, .. var rest] when TryMonthDay(md, out var month, out var day) && rest.Count <= 1 => new FixedDate(month, day, rest.Count == 0 ? Observance.None : rest[0] switch
            {
                "none" => Observance.None,
                "nearest-weekday" => Observance.NearestWeekday,
                "sunday-to-monday" => Observance.SundayToMonday,
                "next-monday" => Observance.NextMonday,
                "two-days-later" => Observance.TwoDaysLater,
                "previous-friday" => Observance.PreviousFriday,
                var other => throw Bad(text, $"'{other}' is not an observance (none, nearest-weekday, sunday-to-monday, next-monday, two-days-later, previous-friday)"),
            }),
            [var nth, var weekday, var month] when Ordinal(nth) is { } n && Enum.TryParse<DayOfWeek>(weekday, true, out var dow)
                                                && int.TryParse(month, CultureInfo.InvariantCulture, out var m) && m is >= 1 and <= 12 => new NthWeekday(m, dow, n),
            ["easter", var offset] when int.TryParse(offset, CultureInfo.InvariantCulture, out var days) => new EasterOffset(days),
            _ => throw Bad(text, "write '01-01 [observance]', '3rd Monday 01', 'last Monday 05', 'easter -2' or '2026-06-08', optionally with 'from YYYY' and 'until YYYY'"),
        };
        return rule with { FromYear = from, ToYear = to, ShiftDays = shift };

        static bool TryMonthDay(string text, out int month, out int day)
        {
            (month, day) = (0, 0);
            // A day every year has: 02-29 is not one (name the years' dates instead).
            return text.Length == 5 && text[2] == '-' && int.TryParse(text[..2], CultureInfo.InvariantCulture, out month)
                && int.TryParse(text[3..], CultureInfo.InvariantCulture, out day) && month is >= 1 and <= 12 && day >= 1 && day <= DateTime.DaysInMonth(2023, month);
        }

        static int? Ordinal(string word) => word switch { "1st" => 1, "2nd" => 2, "3rd" => 3, "4th" => 4, "5th" => 5, "last" => -1, _ => null };
        static ArgumentException Bad(string text, string problem) => new($"Calendar rule '{text}': {problem}.", nameof(text));
    }
}

/// <summary>A date every year, moved off weekends as <paramref name="Observance"/> says.</summary>
public sealed record FixedDate(int Month, int Day, Observance Observance = Observance.None) : CalendarRule
{
    /// <inheritdoc />
    protected override IEnumerable<DateOnly> DaysOf(int year)
    {
        var date = new DateOnly(year, Month, Day);
        DateOnly? observed = (date.DayOfWeek, Observance) switch
        {
            (DayOfWeek.Saturday or DayOfWeek.Sunday, Observance.None) => null,
            (DayOfWeek.Saturday, Observance.NearestWeekday) => date.AddDays(-1),
            (DayOfWeek.Sunday, Observance.NearestWeekday or Observance.SundayToMonday) => date.AddDays(1),
            (DayOfWeek.Saturday, Observance.SundayToMonday) => null,
            (DayOfWeek.Saturday, Observance.NextMonday) => date.AddDays(2),
            (DayOfWeek.Sunday, Observance.NextMonday) => date.AddDays(1),
            (DayOfWeek.Saturday or DayOfWeek.Sunday, Observance.TwoDaysLater) => date.AddDays(2),
            (DayOfWeek.Saturday, Observance.PreviousFriday) => date.AddDays(-1),
            (DayOfWeek.Sunday, Observance.PreviousFriday) => date.AddDays(-2),
            _ => date,
        };
        return observed is { } result ? [result] : [];
    }
}

/// <summary>The <paramref name="N"/>-th <paramref name="Weekday"/> of <paramref name="Month"/>; -1 for the last.</summary>
public sealed record NthWeekday(int Month, DayOfWeek Weekday, int N) : CalendarRule
{
    /// <inheritdoc />
    protected override IEnumerable<DateOnly> DaysOf(int year)
    {
        if (N > 0)
        {
            var first = new DateOnly(year, Month, 1);
            var day = first.AddDays(((int)Weekday - (int)first.DayOfWeek + 7) % 7 + (7 * (N - 1)));
            return day.Month == Month ? [day] : [];
        }

        var last = new DateOnly(year, Month, DateTime.DaysInMonth(year, Month));
        return [last.AddDays(-(((int)last.DayOfWeek - (int)Weekday + 7) % 7))];
    }
}

/// <summary>Easter Sunday (Western, Gregorian) plus <paramref name="Offset"/> days: -2 Good Friday, 1 Easter Monday.</summary>
public sealed record EasterOffset(int Offset) : CalendarRule
{
    /// <inheritdoc />
    protected override IEnumerable<DateOnly> DaysOf(int year) => [EasterSunday(year).AddDays(Offset)];

    /// <summary>Easter Sunday by the anonymous Gregorian algorithm (Meeus/Jones/Butcher).</summary>
    public static DateOnly EasterSunday(int year)
    {
        var a = year % 19;
        var b = year / 100;
        var c = year % 100;
        var d = b / 4;
        var e = b % 4;
        var f = (b + 8) / 25;
        var g = (b - f + 1) / 3;
        var h = ((19 * a) + b - d - g + 15) % 30;
        var i = c / 4;
        var k = c % 4;
        var l = (32 + (2 * e) + (2 * i) - h - k) % 7;
        var m = (a + (11 * h) + (22 * l)) / 451;
        var month = (h + l - (7 * m) + 114) / 31;
        var day = ((h + l - (7 * m) + 114) % 31) + 1;
        return new DateOnly(year, month, day);
    }
}

/// <summary>One date (a one-off closure, or an early close).</summary>
public sealed record SingleDate(DateOnly Date) : CalendarRule
{
    /// <inheritdoc />
    protected override IEnumerable<DateOnly> DaysOf(int year) => Date.Year == year ? [Date] : [];
}
