//! Cron expressions evaluated in a job's time zone: the 5-field Unix form with Unix meaning,
//! or the `cron` crate's own 6/7-field form with seconds.
//!
//! The crate reads only 6/7 fields, numbers weekdays 1–7 from Sunday and ANDs day-of-month
//! with day-of-week. A 5-field line is therefore parsed here, field by field, expanded to
//! explicit value lists and handed to the crate as `0 <min> <hour> <dom> <month> <dow>` with
//! weekday names; when both day fields are restricted the Unix OR becomes two crate
//! schedules whose firings are merged.
//!
//! Wall-clock semantics: a firing is a local date and time that matches the expression.
//! A local time skipped by a daylight-saving change does not fire; a local time that occurs
//! twice fires once, at its first occurrence. Asia/Ho_Chi_Minh has no daylight saving, so
//! this only matters for jobs configured in other zones.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use cron::{Schedule, TimeUnitSpec};

use super::SettingError;

/// A parsed cron expression together with the time zone its wall-clock times are read in.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expr: String,
    tz: Tz,
    /// A firing is a time matching ANY part. One part, except for a Unix line restricting
    /// both day-of-month and day-of-week: then one part per day field (Unix ORs them).
    /// All parts share the same seconds, minutes and hours.
    parts: Vec<Schedule>,
}

impl CronSchedule {
    /// Parses `expr`: 5 fields `min hour dom month dow` with Unix meaning (weekday 0 or 7 =
    /// Sunday, 1 = Monday, names SUN–SAT; day-of-month OR day-of-week when both are
    /// restricted), or 6/7 fields `sec min hour dom month dow [year]` with the `cron` crate's
    /// meaning (weekday 1 = Sunday … 7 = Saturday; day fields ANDed), or `@daily`-style
    /// shorthands.
    ///
    /// As in Vixie cron/cronie, a day field counts as unrestricted when it starts with `*`
    /// (so `*/2` in day-of-month with a weekday means "odd days that are that weekday").
    pub fn parse(expr: &str, tz: Tz) -> Result<CronSchedule, SettingError> {
        let invalid = |reason: String| SettingError::InvalidCron {
            expr: expr.to_owned(),
            reason,
        };
        let trimmed = expr.trim();
        let parts = if trimmed.starts_with('@') {
            vec![Schedule::from_str(trimmed).map_err(|_| {
                invalid(
                    "chỉ hỗ trợ các dạng viết tắt @yearly, @monthly, @weekly, @daily, @hourly"
                        .to_owned(),
                )
            })?]
        } else {
            let fields: Vec<&str> = trimmed.split_whitespace().collect();
            match fields.len() {
                0 => return Err(invalid("biểu thức rỗng".to_owned())),
                5 => unix_parts(&fields).map_err(invalid)?,
                n @ (6 | 7) => vec![Schedule::from_str(trimmed).map_err(|e| {
                    invalid(format!(
                        "thư viện cron từ chối dạng {n} trường (giây phút giờ ngày tháng thứ \
                         [năm], thứ đánh số 1–7 bắt đầu từ Chủ nhật): {}",
                        crate_message(&e)
                    ))
                })?],
                n => {
                    return Err(invalid(format!(
                        "có {n} trường; cần 5 trường kiểu Unix \"phút giờ ngày tháng thứ\" \
                         (ví dụ \"0 8 25 6,12 *\") hoặc 6–7 trường có giây theo cú pháp của \
                         thư viện cron (ví dụ \"0 0 8 25 6,12 *\")"
                    )));
                }
            }
        };
        check_some_day_exists(&parts).map_err(invalid)?;
        Ok(CronSchedule {
            expr: trimmed.to_owned(),
            tz,
            parts,
        })
    }

    /// The expression as written (trimmed).
    pub fn expr(&self) -> &str {
        &self.expr
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first firing strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.parts
            .iter()
            .filter_map(|part| part_next_after(part, self.tz, t))
            .min()
    }

    /// The next `n` firings strictly after `after`, in order (fewer if the schedule ends,
    /// which only a 7-field expression with a year can do).
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n.min(1024));
        let mut cursor = after;
        while out.len() < n {
            match self.next_after(cursor) {
                Some(t) => {
                    out.push(t);
                    cursor = t;
                }
                None => break,
            }
        }
        out
    }

    /// The latest firing in `(after_exclusive, until_inclusive]`: the one to catch up.
    /// Costs a backward search from `until_inclusive` plus a step or two forward, however
    /// long the interval.
    pub fn latest_in(
        &self,
        after_exclusive: DateTime<Utc>,
        until_inclusive: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        if until_inclusive <= after_exclusive {
            return None;
        }
        self.parts
            .iter()
            .filter_map(|part| part_latest_at_or_before(part, self.tz, until_inclusive))
            .filter(|t| *t > after_exclusive)
            .max()
    }

    /// How many firings fall in `(after_exclusive, until_inclusive]`: how many were missed.
    ///
    /// Counted per local day, not per firing: a day without a UTC-offset change is counted
    /// arithmetically from the hour/minute/second sets, so an every-minute schedule over a
    /// year of downtime costs about 370 day steps, not 525,600 iterations. Only a day with
    /// a daylight-saving change walks its firings one by one. Days are bounded by the
    /// crate's year range (1970–2100), so the loop never exceeds about 48,000 days.
    pub fn count_in(&self, after_exclusive: DateTime<Utc>, until_inclusive: DateTime<Utc>) -> u64 {
        if until_inclusive <= after_exclusive {
            return 0;
        }
        let (Some(min_day), Some(max_day)) = (
            NaiveDate::from_ymd_opt(1970, 1, 1),
            NaiveDate::from_ymd_opt(2100, 12, 31),
        ) else {
            return 0;
        };
        // One day of margin each side: a firing's local date is found from its own offset.
        let first = after_exclusive.with_timezone(&self.tz).date_naive();
        let first = first.pred_opt().unwrap_or(first).max(min_day);
        let last = until_inclusive.with_timezone(&self.tz).date_naive();
        let last = last.succ_opt().unwrap_or(last).min(max_day);

        let mut total = 0;
        let mut day = first;
        while day <= last {
            if self.day_matches(day) {
                total += self.count_on_day(day, after_exclusive, until_inclusive);
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        total
    }

    fn day_matches(&self, day: NaiveDate) -> bool {
        let (Ok(year), month, dom, dow) = (
            u32::try_from(day.year()),
            day.month(),
            day.day(),
            day.weekday().number_from_sunday(),
        ) else {
            return false;
        };
        self.parts.iter().any(|part| {
            part.years().includes(year)
                && part.months().includes(month)
                && part.days_of_month().includes(dom)
                && part.days_of_week().includes(dow)
        })
    }

    /// Firings on local day `day` (already known to match) inside `(after, until]`.
    fn count_on_day(&self, day: NaiveDate, after: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
        let midnight = day.and_time(NaiveTime::MIN);
        let next_midnight = day.succ_opt().map(|d| d.and_time(NaiveTime::MIN));
        let start = self.tz.from_local_datetime(&midnight).single();
        let end = next_midnight.and_then(|n| self.tz.from_local_datetime(&n).single());
        if let (Some(start), Some(end)) = (start, end) {
            let offset = start.offset().fix();
            let noon = start + Duration::hours(12);
            if end - start == Duration::days(1) && noon.offset().fix() == offset {
                // Constant offset all day: time of day `s` seconds is the instant start + s.
                let base = start.timestamp();
                return self.count_times_upto(until.timestamp() - base)
                    - self.count_times_upto(after.timestamp() - base);
            }
        }
        self.count_on_day_by_walking(day, after, until)
    }

    /// Number of times of day (seconds since midnight) `<= upto` in the schedule's
    /// hour × minute × second set.
    fn count_times_upto(&self, upto: i64) -> u64 {
        let Some(part) = self.parts.first() else {
            return 0;
        };
        if upto < 0 {
            return 0;
        }
        let upto = upto.min(86_399);
        // `upto` is now within one day, so these fit in u32.
        let (h, m, s) = (
            (upto / 3600) as u32,
            (upto / 60 % 60) as u32,
            (upto % 60) as u32,
        );
        let per_minute = u64::from(part.seconds().count());
        let per_hour = u64::from(part.minutes().count()) * per_minute;
        let mut n = part.hours().range(..h).count() as u64 * per_hour;
        if part.hours().includes(h) {
            n += part.minutes().range(..m).count() as u64 * per_minute;
            if part.minutes().includes(m) {
                n += part.seconds().range(..=s).count() as u64;
            }
        }
        n
    }

    /// Slow path for a day with a UTC-offset change: walk its firings.
    fn count_on_day_by_walking(
        &self,
        day: NaiveDate,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> u64 {
        let midnight = day.and_time(NaiveTime::MIN);
        // Before any instant of local date `day`: UTC offsets stay within ±15 h.
        let lower = match self.tz.from_local_datetime(&midnight).earliest() {
            Some(start) => start.with_timezone(&Utc) - Duration::seconds(1),
            None => midnight.and_utc() - Duration::hours(15),
        };
        let mut cursor = after.max(lower);
        let mut n = 0;
        while let Some(t) = self.next_after(cursor) {
            if t > until {
                break;
            }
            let local_day = t.with_timezone(&self.tz).date_naive();
            if local_day > day {
                break;
            }
            if local_day == day {
                n += 1;
            }
            cursor = t;
        }
        n
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.expr, self.tz.name())
    }
}

/// Reads an IANA time-zone name such as "Asia/Ho_Chi_Minh".
pub fn parse_timezone(name: &str) -> Result<Tz, SettingError> {
    Tz::from_str(name.trim()).map_err(|_| SettingError::UnknownTimezone {
        name: name.to_owned(),
    })
}

/// First firing of one crate schedule strictly after `t`, read in `tz`.
fn part_next_after(part: &Schedule, tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut from = t.with_timezone(&tz);
    loop {
        // A fresh iterator: its first item is the earlier instant of a repeated local time.
        let found = part.after(&from).next()?;
        let found_utc = found.with_timezone(&Utc);
        if found_utc > t {
            return Some(found_utc);
        }
        // The crate searches by wall-clock time: when `t` lies in the second pass of a
        // repeated hour it can return the first pass, before `t`. Wall-clock time grows
        // every round, so this leaves the repeated hour after at most its firings.
        from = found;
    }
}

/// Latest firing of one crate schedule at or before `until`.
fn part_latest_at_or_before(
    part: &Schedule,
    tz: Tz,
    until: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    // The crate's backward search is strictly before a whole-second instant; it may
    // pick the later pass of a repeated local time, and near an offset change its
    // wall-clock comparison can stop short. It still lands at or before the answer, so
    // a short forward walk with the forward rules settles it.
    let probe = until
        .with_nanosecond(0)
        .unwrap_or(until)
        .checked_add_signed(Duration::seconds(1))?
        .with_timezone(&tz);
    let candidate = part.after(&probe).next_back()?;
    let start = tz
        .from_local_datetime(&candidate.naive_local())
        .earliest()?
        .with_timezone(&Utc)
        - Duration::seconds(1);
    let mut best = None;
    let mut cursor = start;
    while let Some(t) = part_next_after(part, tz, cursor) {
        if t > until {
            break;
        }
        best = Some(t);
        cursor = t;
    }
    best
}

/// The crate's message without the echoed input and caret its parser error adds
/// (config errors are one line, and the expression is already quoted).
fn crate_message(error: &cron::error::Error) -> String {
    let text = error.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let after_caret = lines
        .iter()
        .position(|l| l.trim() == "^")
        .map_or(&lines[..], |i| &lines[i + 1..]);
    let message = after_caret.join(" ");
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if message.is_empty() {
        "cú pháp không đúng".to_owned()
    } else {
        message
    }
}

/// One field of the 5-field Unix form.
struct UnixField {
    /// Vietnamese name and position, for error messages.
    label: &'static str,
    min: u32,
    max: u32,
    /// Values `*` stands for (weekday: 0–6, since 7 repeats Sunday).
    star_max: u32,
    names: &'static [(&'static str, u32)],
    is_weekday: bool,
    allows_question_mark: bool,
}

const MINUTE: UnixField = UnixField {
    label: "phút (vị trí 1, 0–59)",
    min: 0,
    max: 59,
    star_max: 59,
    names: &[],
    is_weekday: false,
    allows_question_mark: false,
};

const HOUR: UnixField = UnixField {
    label: "giờ (vị trí 2, 0–23)",
    min: 0,
    max: 23,
    star_max: 23,
    names: &[],
    is_weekday: false,
    allows_question_mark: false,
};

const DAY_OF_MONTH: UnixField = UnixField {
    label: "ngày trong tháng (vị trí 3, 1–31)",
    min: 1,
    max: 31,
    star_max: 31,
    names: &[],
    is_weekday: false,
    allows_question_mark: true,
};

const MONTH: UnixField = UnixField {
    label: "tháng (vị trí 4, 1–12 hoặc JAN–DEC)",
    min: 1,
    max: 12,
    star_max: 12,
    names: &[
        ("jan", 1),
        ("january", 1),
        ("feb", 2),
        ("february", 2),
        ("mar", 3),
        ("march", 3),
        ("apr", 4),
        ("april", 4),
        ("may", 5),
        ("jun", 6),
        ("june", 6),
        ("jul", 7),
        ("july", 7),
        ("aug", 8),
        ("august", 8),
        ("sep", 9),
        ("september", 9),
        ("oct", 10),
        ("october", 10),
        ("nov", 11),
        ("november", 11),
        ("dec", 12),
        ("december", 12),
    ],
    is_weekday: false,
    allows_question_mark: false,
};

const DAY_OF_WEEK: UnixField = UnixField {
    label: "thứ trong tuần (vị trí 5, 0–7 với 0 và 7 là Chủ nhật, 1 là thứ Hai, hoặc SUN–SAT)",
    min: 0,
    max: 7,
    star_max: 6,
    names: &[
        ("sun", 0),
        ("sunday", 0),
        ("mon", 1),
        ("monday", 1),
        ("tue", 2),
        ("tuesday", 2),
        ("wed", 3),
        ("wednesday", 3),
        ("thu", 4),
        ("thursday", 4),
        ("fri", 5),
        ("friday", 5),
        ("sat", 6),
        ("saturday", 6),
    ],
    is_weekday: true,
    allows_question_mark: true,
};

/// Weekday names for the crate, indexed by Unix number (0 = Sunday): names keep the
/// crate's 1-from-Sunday numbering out of the translation.
const CRATE_WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Translates a 5-field Unix line into crate schedules (see `CronSchedule::parts`).
fn unix_parts(fields: &[&str]) -> Result<Vec<Schedule>, String> {
    let [minute, hour, dom, month, dow] = fields else {
        return Err(format!("cần đúng 5 trường, có {}", fields.len()));
    };
    let minutes = render(&expand(minute, &MINUTE)?, &MINUTE);
    let hours = render(&expand(hour, &HOUR)?, &HOUR);
    let doms = render(&expand(dom, &DAY_OF_MONTH)?, &DAY_OF_MONTH);
    let months = render(&expand(month, &MONTH)?, &MONTH);
    let dows = render(&expand(dow, &DAY_OF_WEEK)?, &DAY_OF_WEEK);

    let unrestricted = |text: &str| text.starts_with('*') || text == "?";
    let build = |dom: &str, dow: &str| {
        let translated = format!("0 {minutes} {hours} {dom} {months} {dow}");
        Schedule::from_str(&translated).map_err(|e| {
            format!(
                "lỗi nội bộ khi chuyển sang cú pháp thư viện cron \"{translated}\": {}",
                crate_message(&e)
            )
        })
    };
    if unrestricted(dom) || unrestricted(dow) {
        Ok(vec![build(&doms, &dows)?])
    } else {
        Ok(vec![build(&doms, "*")?, build("*", &dows)?])
    }
}

/// Expands one Unix field into its set of values (weekday 7 folded onto 0).
fn expand(text: &str, field: &UnixField) -> Result<BTreeSet<u32>, String> {
    let label = field.label;
    let mut set = BTreeSet::new();
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!(
                "trường {label} là \"{text}\": có mục rỗng (thừa dấu phẩy)"
            ));
        }
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => match step.parse::<u32>() {
                Ok(step) if step > 0 => (base, Some(step)),
                _ => {
                    return Err(format!(
                        "trường {label} là \"{text}\": bước nhảy \"{step}\" phải là số nguyên dương"
                    ));
                }
            },
            None => (item, None),
        };
        let (low, high) = if base == "*" || (base == "?" && field.allows_question_mark) {
            (field.min, field.star_max)
        } else if let Some((from, to)) = base.split_once('-') {
            let from = value(from, text, field)?;
            let mut to = value(to, text, field)?;
            if field.is_weekday && to == 0 && from > 0 {
                // "MON-SUN", "5-0": Sunday closing a range is the 7 at the week's end.
                to = 7;
            }
            if from > to {
                return Err(format!(
                    "trường {label} là \"{text}\": khoảng \"{base}\" bị ngược (đầu lớn hơn cuối)"
                ));
            }
            (from, to)
        } else {
            let v = value(base, text, field)?;
            // "5/15": from 5 to the end of the range, every 15.
            (v, if step.is_some() { field.max } else { v })
        };
        let step = step.unwrap_or(1) as usize;
        for v in (low..=high).step_by(step) {
            set.insert(if field.is_weekday && v == 7 { 0 } else { v });
        }
    }
    Ok(set)
}

fn value(token: &str, text: &str, field: &UnixField) -> Result<u32, String> {
    let label = field.label;
    if token.is_empty() {
        return Err(format!("trường {label} là \"{text}\": thiếu giá trị"));
    }
    if token.bytes().all(|b| b.is_ascii_digit()) {
        return match token.parse::<u32>() {
            Ok(v) if (field.min..=field.max).contains(&v) => Ok(v),
            _ => Err(format!(
                "trường {label} là \"{text}\": giá trị {token} nằm ngoài khoảng {}–{}",
                field.min, field.max
            )),
        };
    }
    let lower = token.to_ascii_lowercase();
    field
        .names
        .iter()
        .find(|(name, _)| *name == lower)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("trường {label} là \"{text}\": không hiểu \"{token}\""))
}

/// Writes an expanded set in crate syntax: `*` when complete, else an explicit list
/// (weekdays by name, so numbering cannot be confused).
fn render(set: &BTreeSet<u32>, field: &UnixField) -> String {
    let complete = (field.min..=field.star_max).all(|v| set.contains(&v));
    if complete {
        return "*".to_owned();
    }
    let items: Vec<String> = set
        .iter()
        .map(|&v| match CRATE_WEEKDAYS.get(v as usize) {
            Some(name) if field.is_weekday => (*name).to_owned(),
            _ => v.to_string(),
        })
        .collect();
    items.join(",")
}

/// Rejects a schedule whose day-of-month never occurs in its months ("0 8 30 2 *"):
/// it would be accepted and then silently never fire.
fn check_some_day_exists(parts: &[Schedule]) -> Result<(), String> {
    const LONGEST_MONTH: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    for part in parts {
        let doms = part.days_of_month();
        if doms.is_all() {
            continue;
        }
        let possible = part.months().iter().any(|month| {
            let longest = LONGEST_MONTH
                .get(month.saturating_sub(1) as usize)
                .copied()
                .unwrap_or(31);
            doms.range(..=longest).next().is_some()
        });
        if !possible {
            let list = |it: &mut dyn Iterator<Item = u32>| {
                it.map(|v| v.to_string()).collect::<Vec<_>>().join(",")
            };
            return Err(format!(
                "ngày {} không có trong tháng {}, nên lịch này không bao giờ chạy",
                list(&mut doms.iter()),
                list(&mut part.months().iter())
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::VIETNAM;
    use chrono::{NaiveDateTime, Weekday};

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn vn(expr: &str) -> CronSchedule {
        CronSchedule::parse(expr, VIETNAM).unwrap()
    }

    fn local(t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&VIETNAM).naive_local()
    }

    #[test]
    fn one_means_monday() {
        let s = vn("0 8 * * 1");
        let firings = s.upcoming(utc(2026, 1, 1, 0, 0), 10);
        assert_eq!(firings.len(), 10);
        assert_eq!(firings[0], utc(2026, 1, 5, 1, 0)); // Monday 5 January 2026, 08:00 +07
        for (i, t) in firings.iter().enumerate() {
            let l = local(*t);
            assert_eq!(l.weekday(), Weekday::Mon, "{l}");
            assert_eq!((l.hour(), l.minute(), l.second()), (8, 0, 0));
            assert_eq!(*t, firings[0] + Duration::weeks(i as i64));
        }
    }

    #[test]
    fn zero_seven_and_names_all_mean_sunday() {
        let start = utc(2026, 2, 20, 0, 0);
        let expected = vn("0 8 * * 0").upcoming(start, 6);
        assert_eq!(expected[0], utc(2026, 2, 22, 1, 0)); // Sunday 22 February 2026
        assert!(expected.iter().all(|t| local(*t).weekday() == Weekday::Sun));
        for expr in [
            "0 8 * * 7",
            "0 8 * * SUN",
            "0 8 * * sun",
            "0 8 * * Sunday",
            "0 8 * * 0,7",
        ] {
            assert_eq!(vn(expr).upcoming(start, 6), expected, "{expr}");
        }
    }

    #[test]
    fn weekday_ranges_steps_and_names() {
        let start = utc(2026, 3, 1, 0, 0);
        let days = |expr: &str| -> Vec<Weekday> {
            vn(expr)
                .upcoming(start, 7)
                .iter()
                .map(|t| local(*t).weekday())
                .collect()
        };
        use Weekday::*;
        // 1 March 2026 is a Sunday; its 08:00 firing comes first where Sunday matches.
        assert_eq!(days("0 8 * * 1-5"), [Mon, Tue, Wed, Thu, Fri, Mon, Tue]);
        assert_eq!(days("0 8 * * MON-FRI"), [Mon, Tue, Wed, Thu, Fri, Mon, Tue]);
        assert_eq!(days("0 8 * * 5-7"), [Sun, Fri, Sat, Sun, Fri, Sat, Sun]);
        assert_eq!(days("0 8 * * FRI-SUN"), [Sun, Fri, Sat, Sun, Fri, Sat, Sun]);
        assert_eq!(days("0 8 * * */2"), [Sun, Tue, Thu, Sat, Sun, Tue, Thu]);
        assert_eq!(days("0 8 * * 1-5/2"), [Mon, Wed, Fri, Mon, Wed, Fri, Mon]);
        assert_eq!(days("0 8 * * MON-SUN"), [Sun, Mon, Tue, Wed, Thu, Fri, Sat]);
        assert_eq!(days("0 8 * * 0-7"), [Sun, Mon, Tue, Wed, Thu, Fri, Sat]);
    }

    #[test]
    fn day_of_month_or_day_of_week_when_both_restricted() {
        // 25 May 2026 is a Monday; start just after its firing.
        let firings = vn("0 8 1 * 1").upcoming(utc(2026, 5, 25, 1, 0), 8);
        let dates: Vec<_> = firings.iter().map(|t| local(*t).date()).collect();
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert_eq!(
            dates,
            [
                d(6, 1), // both a Monday and the 1st: once
                d(6, 8),
                d(6, 15),
                d(6, 22),
                d(6, 29),
                d(7, 1), // a Wednesday
                d(7, 6),
                d(7, 13),
            ]
        );
    }

    #[test]
    fn day_field_starting_with_star_is_anded_like_vixie_cron() {
        // "*/2" in day-of-month counts as unrestricted: odd days that are Mondays.
        let firings = vn("0 8 */2 * 1").upcoming(utc(2026, 1, 1, 0, 0), 5);
        for t in &firings {
            let l = local(*t);
            assert_eq!(l.weekday(), Weekday::Mon, "{l}");
            assert_eq!(l.day() % 2, 1, "{l}");
        }
        assert_eq!(firings[0], utc(2026, 1, 5, 1, 0));
    }

    #[test]
    fn half_yearly_review_dates() {
        let s = vn("0 8 25 6,12 *");
        assert_eq!(
            s.upcoming(utc(2026, 11, 28, 0, 0), 3),
            [
                utc(2026, 12, 25, 1, 0),
                utc(2027, 6, 25, 1, 0),
                utc(2027, 12, 25, 1, 0)
            ]
        );
        // Month names mean the same.
        assert_eq!(
            vn("0 8 25 JUN,DEC *").upcoming(utc(2026, 11, 28, 0, 0), 3),
            s.upcoming(utc(2026, 11, 28, 0, 0), 3)
        );
    }

    #[test]
    fn every_quarter_hour() {
        let s = vn("*/15 * * * *");
        let t = VIETNAM
            .with_ymd_and_hms(2026, 4, 30, 23, 52, 30)
            .unwrap()
            .with_timezone(&Utc);
        // Across midnight and a month end.
        assert_eq!(
            s.upcoming(t, 2),
            [utc(2026, 4, 30, 17, 0), utc(2026, 4, 30, 17, 15)]
        );
        let day_start = utc(2026, 4, 29, 17, 0);
        assert_eq!(s.count_in(day_start, day_start + Duration::days(1)), 96);
    }

    #[test]
    fn first_of_month_in_vietnam_is_the_previous_day_in_utc() {
        let s = vn("0 0 1 * *");
        assert_eq!(
            s.upcoming(utc(2026, 12, 15, 0, 0), 2),
            [utc(2026, 12, 31, 17, 0), utc(2027, 1, 31, 17, 0)]
        );
        let in_utc = CronSchedule::parse("0 0 1 * *", chrono_tz::UTC).unwrap();
        assert_eq!(
            in_utc.next_after(utc(2026, 12, 15, 0, 0)),
            Some(utc(2027, 1, 1, 0, 0))
        );
        let daily = vn("0 8 * * *");
        assert_eq!(
            daily.next_after(utc(2026, 7, 1, 0, 0)),
            Some(utc(2026, 7, 1, 1, 0))
        );
        let daily_utc = CronSchedule::parse("0 8 * * *", chrono_tz::UTC).unwrap();
        assert_eq!(
            daily_utc.next_after(utc(2026, 7, 1, 0, 0)),
            Some(utc(2026, 7, 1, 8, 0))
        );
    }

    #[test]
    fn new_years_eve_across_the_year() {
        let s = vn("0 23 31 12 *");
        let this_year = utc(2026, 12, 31, 16, 0);
        assert_eq!(s.next_after(utc(2026, 6, 1, 0, 0)), Some(this_year));
        // Strictly after: the firing itself is not "next", not even a nanosecond before.
        assert_eq!(s.next_after(this_year), Some(utc(2027, 12, 31, 16, 0)));
        assert_eq!(
            s.next_after(this_year - Duration::nanoseconds(1)),
            Some(this_year)
        );
        assert_eq!(
            s.next_after(this_year + Duration::milliseconds(500)),
            Some(utc(2027, 12, 31, 16, 0))
        );
    }

    #[test]
    fn twenty_ninth_of_february_waits_for_a_leap_year() {
        let s = vn("0 8 29 2 *");
        assert_eq!(
            s.upcoming(utc(2026, 1, 1, 0, 0), 2),
            [utc(2028, 2, 29, 1, 0), utc(2032, 2, 29, 1, 0)]
        );
        assert_eq!(s.count_in(utc(2026, 1, 1, 0, 0), utc(2033, 1, 1, 0, 0)), 2);
        assert_eq!(
            s.latest_in(utc(2026, 1, 1, 0, 0), utc(2031, 1, 1, 0, 0)),
            Some(utc(2028, 2, 29, 1, 0))
        );
        // The 31st exists in some listed month: accepted, fires in March only.
        let s = vn("0 8 31 2,3 *");
        assert_eq!(
            s.next_after(utc(2026, 1, 1, 0, 0)),
            Some(utc(2026, 3, 31, 1, 0))
        );
    }

    #[test]
    fn crate_form_keeps_the_crate_meaning() {
        // 6 fields: weekday 2 is Monday in the crate's numbering.
        let s = vn("0 0 8 * * 2");
        assert!(
            s.upcoming(utc(2026, 1, 1, 0, 0), 5)
                .iter()
                .all(|t| local(*t).weekday() == Weekday::Mon)
        );
        // Day fields ANDed: the first Monday of each month.
        let s = vn("0 0 8 1-7 * Mon");
        let firings = s.upcoming(utc(2026, 1, 1, 0, 0), 3);
        assert_eq!(
            firings,
            [
                utc(2026, 1, 5, 1, 0),
                utc(2026, 2, 2, 1, 0),
                utc(2026, 3, 2, 1, 0)
            ]
        );
        // Seconds are honoured.
        assert_eq!(
            vn("30 0 8 * * *").next_after(utc(2026, 1, 1, 0, 0)),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 30).unwrap())
        );
        // 7 fields with a year: ends.
        let s = vn("0 0 8 25 12 * 2026");
        assert_eq!(
            s.upcoming(utc(2026, 1, 1, 0, 0), 5),
            [utc(2026, 12, 25, 1, 0)]
        );
        assert_eq!(s.next_after(utc(2026, 12, 25, 1, 0)), None);
        // Shorthand.
        assert_eq!(
            vn("@daily").next_after(utc(2026, 1, 1, 0, 0)),
            Some(utc(2026, 1, 1, 17, 0))
        );
    }

    #[test]
    fn bad_expressions_say_what_is_wrong_in_vietnamese() {
        let cases: &[(&str, &[&str])] = &[
            ("0 8 25 6,12", &["có 4 trường", "5 trường"]),
            ("0 8 25 6 12 * 2026 1", &["có 8 trường"]),
            ("   ", &["rỗng"]),
            ("0 25 * * *", &["giờ", "25", "0–23"]),
            ("60 8 * * *", &["phút", "60"]),
            ("0 8 32 * *", &["ngày trong tháng", "32"]),
            ("0 8 0 * *", &["ngày trong tháng", "giá trị 0"]),
            ("0 8 * 13 *", &["tháng", "13"]),
            ("0 8 * * 8", &["thứ trong tuần", "giá trị 8"]),
            ("0 8 * * MON-", &["thứ trong tuần", "thiếu giá trị"]),
            ("0 8 * * FOO", &["không hiểu \"FOO\""]),
            ("0 8 * JANUAR *", &["tháng", "không hiểu \"JANUAR\""]),
            ("0 8 * * 5-1", &["bị ngược"]),
            ("*/0 * * * *", &["phút", "bước nhảy \"0\""]),
            ("*/x * * * *", &["bước nhảy \"x\""]),
            ("0 8 1,,2 * *", &["mục rỗng"]),
            ("0 8 ? * ?", &[]),
            (
                "0 8 30 2 *",
                &["ngày 30 không có trong tháng 2", "không bao giờ chạy"],
            ),
            ("0 8 31 4,6,9,11 *", &["không bao giờ chạy"]),
            ("0 8 31 2 1", &["không bao giờ chạy"]),
            (
                "0 0 8 * * 0",
                &["thư viện cron", "6 trường", "Days of Week must be greater"],
            ),
            ("0 0 8 30 2 *", &["không bao giờ chạy"]),
            ("@reboot", &["viết tắt"]),
            ("a b c d e f", &["thư viện cron", "'a'"]),
            ("0 0 8 * * %", &["thư viện cron", "cú pháp không đúng"]),
        ];
        for (expr, needles) in cases {
            let result = CronSchedule::parse(expr, VIETNAM);
            if needles.is_empty() {
                assert!(result.is_ok(), "{expr}: {result:?}");
                continue;
            }
            let msg = result.unwrap_err().to_string();
            assert!(msg.contains(&format!("\"{expr}\"")), "{expr}: {msg}");
            assert!(msg.starts_with("Biểu thức cron"), "{expr}: {msg}");
            assert!(!msg.contains("Hours must be less than 23"), "{expr}: {msg}");
            assert!(!msg.contains('\n'), "{expr}: {msg}");
            for needle in *needles {
                assert!(msg.contains(needle), "{expr}: {msg} (expected {needle})");
            }
        }
    }

    #[test]
    fn timezone_names() {
        assert_eq!(parse_timezone("Asia/Ho_Chi_Minh").unwrap(), VIETNAM);
        assert_eq!(parse_timezone(" UTC ").unwrap(), chrono_tz::UTC);
        let msg = parse_timezone("Asia/Hanoi").unwrap_err().to_string();
        assert!(
            msg.contains("\"Asia/Hanoi\"") && msg.contains("Asia/Ho_Chi_Minh"),
            "{msg}"
        );
        assert!(parse_timezone("asia/ho_chi_minh").is_err());
        assert_eq!(vn("0 8 * * 1").to_string(), "0 8 * * 1 (Asia/Ho_Chi_Minh)");
    }

    #[test]
    fn a_year_of_every_minute_is_counted_without_iterating() {
        let s = vn("* * * * *");
        let from = utc(2026, 3, 10, 5, 17);
        let until = from + Duration::days(365);
        assert_eq!(s.count_in(from, until), 365 * 24 * 60);
        assert_eq!(s.latest_in(from, until), Some(until));
        let until_mid_minute = until + Duration::seconds(59);
        assert_eq!(s.latest_in(from, until_mid_minute), Some(until));
        assert_eq!(
            s.count_in(from + Duration::seconds(1), until_mid_minute),
            365 * 24 * 60
        );
        // Every second (crate form) over a week.
        let s = vn("* * * * * *");
        assert_eq!(s.count_in(from, from + Duration::weeks(1)), 7 * 86_400);
        assert_eq!(s.count_in(from, from), 0);
        assert_eq!(s.latest_in(from, from), None);
    }

    /// An expression and its Unix meaning written out by hand.
    type Case = (&'static str, Box<dyn Fn(&NaiveDateTime) -> bool>);

    /// Tiny deterministic generator, so the comparison windows are reproducible.
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    /// Firings in `(from, until]` found the slow, obvious way: every local minute is
    /// tested with `matches` (written out by hand from the Unix meaning), mapped to UTC
    /// at its first occurrence, skipped if the clock jumps over it.
    fn brute_force(
        tz: Tz,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        matches: &dyn Fn(&NaiveDateTime) -> bool,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut n = (from.with_timezone(&tz).naive_local() - Duration::days(1))
            .with_second(0)
            .unwrap();
        let end = until.with_timezone(&tz).naive_local() + Duration::days(1);
        while n <= end {
            if matches(&n)
                && let Some(t) = tz.from_local_datetime(&n).earliest()
            {
                let t = t.with_timezone(&Utc);
                if t > from && t <= until {
                    out.push(t);
                }
            }
            n += Duration::minutes(1);
        }
        assert!(out.windows(2).all(|w| w[0] < w[1]));
        out
    }

    fn compare_with_brute_force(
        tz: Tz,
        expr: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        matches: &dyn Fn(&NaiveDateTime) -> bool,
    ) {
        let s = CronSchedule::parse(expr, tz).unwrap();
        let expected = brute_force(tz, from, until, matches);
        assert!(!expected.is_empty(), "{expr}");
        let got: Vec<_> = s
            .upcoming(from, expected.len() + 1)
            .into_iter()
            .filter(|t| *t <= until)
            .collect();
        assert_eq!(got, expected, "{expr} in {tz}");

        let span = (until - from).num_seconds() as u64;
        let mut rng = Lcg(expr.len() as u64 * 7919);
        for i in 0..300 {
            // Random instants, and firing instants exactly (and a second either side).
            let pick = |rng: &mut Lcg| -> DateTime<Utc> {
                if i % 3 == 0 {
                    let f = expected[rng.below(expected.len() as u64) as usize];
                    f + Duration::seconds(rng.below(3) as i64 - 1)
                } else {
                    from + Duration::seconds(rng.below(span) as i64)
                        + Duration::nanoseconds(rng.below(1_000_000_000) as i64)
                }
            };
            let (a, b) = (pick(&mut rng), pick(&mut rng));
            let (a, b) = (a.min(b), a.max(b));
            let inside: Vec<_> = expected.iter().filter(|t| **t > a && **t <= b).collect();
            assert_eq!(
                s.count_in(a, b),
                inside.len() as u64,
                "{expr} in {tz}: count ({a}, {b}]"
            );
            assert_eq!(
                s.latest_in(a, b),
                inside.last().map(|t| **t),
                "{expr} in {tz}: latest ({a}, {b}]"
            );
            let next = expected.iter().find(|t| **t > a).copied();
            if next.is_some() {
                assert_eq!(s.next_after(a), next, "{expr} in {tz}: next after {a}");
            }
        }
    }

    #[test]
    fn unix_meaning_matches_a_brute_force_reading() {
        // 1 November 2026 to mid-February 2027: month ends, a year end, 28-day February.
        let (from, until) = (utc(2026, 10, 31, 3, 0), utc(2027, 2, 15, 21, 0));
        let dow = |n: &NaiveDateTime| n.weekday().num_days_from_sunday();
        let cases: Vec<Case> = vec![
            (
                "0 8 * * 1",
                Box::new(move |n| n.minute() == 0 && n.hour() == 8 && dow(n) == 1),
            ),
            (
                "0 8 1 * 1",
                Box::new(move |n| {
                    n.minute() == 0 && n.hour() == 8 && (n.day() == 1 || dow(n) == 1)
                }),
            ),
            (
                "30 7,17 1-7 * 5",
                Box::new(move |n| {
                    n.minute() == 30
                        && (n.hour() == 7 || n.hour() == 17)
                        && (n.day() <= 7 || dow(n) == 5)
                }),
            ),
            (
                "*/20 9-11 * * 1-5",
                Box::new(move |n| {
                    n.minute() % 20 == 0
                        && (9..=11).contains(&n.hour())
                        && (1..=5).contains(&dow(n))
                }),
            ),
            (
                "0 0 */10 * *",
                Box::new(|n| n.minute() == 0 && n.hour() == 0 && n.day() % 10 == 1),
            ),
            (
                "0 8 */2 * 1",
                Box::new(move |n| {
                    n.minute() == 0 && n.hour() == 8 && n.day() % 2 == 1 && dow(n) == 1
                }),
            ),
            (
                "15 14 1 JAN,DEC *",
                Box::new(|n| {
                    n.minute() == 15
                        && n.hour() == 14
                        && n.day() == 1
                        && [1, 12].contains(&n.month())
                }),
            ),
            (
                "5 4 31 * SAT,0",
                Box::new(move |n| {
                    n.minute() == 5
                        && n.hour() == 4
                        && (n.day() == 31 || dow(n) == 6 || dow(n) == 0)
                }),
            ),
            (
                "0 23 28-31 * *",
                Box::new(|n| n.minute() == 0 && n.hour() == 23 && n.day() >= 28),
            ),
        ];
        for (expr, matches) in &cases {
            compare_with_brute_force(VIETNAM, expr, from, until, matches.as_ref());
            compare_with_brute_force(chrono_tz::UTC, expr, from, until, matches.as_ref());
        }
    }

    #[test]
    fn daylight_saving_zones_fire_once_per_wall_clock_time() {
        // Berlin, 2026: 02:00→03:00 on 29 March, 03:00→02:00 on 25 October.
        let berlin = chrono_tz::Europe::Berlin;
        let windows = [
            (utc(2026, 3, 27, 0, 0), utc(2026, 4, 1, 0, 0)),
            (utc(2026, 10, 23, 0, 0), utc(2026, 10, 28, 0, 0)),
        ];
        let cases: Vec<Case> = vec![
            ("*/15 * * * *", Box::new(|n| n.minute() % 15 == 0)),
            (
                "30 2 * * *",
                Box::new(|n| n.minute() == 30 && n.hour() == 2),
            ),
            ("0 * * * *", Box::new(|n| n.minute() == 0)),
        ];
        for (from, until) in windows {
            for (expr, matches) in &cases {
                compare_with_brute_force(berlin, expr, from, until, matches.as_ref());
            }
        }
        // The skipped 02:30 does not fire on 29 March; the repeated one fires once.
        let s = CronSchedule::parse("30 2 * * *", berlin).unwrap();
        assert_eq!(
            s.upcoming(utc(2026, 3, 28, 0, 0), 2),
            [utc(2026, 3, 28, 1, 30), utc(2026, 3, 30, 0, 30)]
        );
        assert_eq!(
            s.upcoming(utc(2026, 10, 24, 12, 0), 2),
            [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
        );
    }
}
