//! Weekly time profiles: 168 hourly availability values in 0..=1 (Monday 00:00 first), given either
//! as the raw hours or as a compact schedule such as `Mon-Fri 06:00-22:00; Sat 08:00-12:00`.

use serde::{Deserialize, Serialize};

pub const HOURS_PER_WEEK: usize = 168;
/// Mean number of weeks in a Gregorian year (365.2425 / 7).
pub const WEEKS_PER_YEAR: f64 = 52.1775;

/// Days of each month in a mean Gregorian year (February 28.2425), summing to 365.2425.
pub const DAYS_PER_MONTH: [f64; 12] = [
    31.0, 28.2425, 31.0, 30.0, 31.0, 30.0, 31.0, 31.0, 30.0, 31.0, 30.0, 31.0,
];

/// Checks 12 monthly factors (any non-negative scale, not all zero) and scales them so the largest
/// is 1: the weekly profile runs at full level in the peak month and at `factor` of it in the others.
pub fn normalise_monthly_factors(factors: &[f64]) -> Result<[f64; 12], String> {
    if factors.len() != 12 {
        return Err(format!(
            "must be 12 numbers, January first, got {}",
            factors.len()
        ));
    }
    if factors.iter().any(|f| !f.is_finite() || *f < 0.0) {
        return Err("every monthly factor must be a number >= 0".into());
    }
    let peak = factors.iter().copied().fold(0.0, f64::max);
    if peak <= 0.0 {
        return Err("at least one month must have a factor above 0".into());
    }
    let mut out = [0.0; 12];
    for (o, f) in out.iter_mut().zip(factors) {
        *o = f / peak;
    }
    Ok(out)
}

/// Equivalent full-load weeks per year of a flow whose weekly profile runs at `factors` of its level
/// month by month (52.18 without factors).
pub fn weeks_per_year(factors: Option<&[f64; 12]>) -> f64 {
    match factors {
        None => WEEKS_PER_YEAR,
        Some(f) => f.iter().zip(DAYS_PER_MONTH).map(|(f, d)| f * d / 7.0).sum(),
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Share of each hour of the week during which a flow is available (supply) or required (demand).
/// Written as its 168 values; read from them or from a schedule string (the store keeps a flow
/// given by schedule as that string, so a start-up parses no numbers for it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(into = "Vec<f32>")]
pub struct WeeklyProfile(Box<[f32; HOURS_PER_WEEK]>);

impl<'de> Deserialize<'de> for WeeklyProfile {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Hours;
        impl<'de> serde::de::Visitor<'de> for Hours {
            type Value = WeeklyProfile;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "{HOURS_PER_WEEK} hourly values or a schedule string")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                WeeklyProfile::parse_schedule(text).map_err(E::custom)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut values = Vec::with_capacity(HOURS_PER_WEEK);
                while let Some(value) = seq.next_element::<f32>()? {
                    values.push(f64::from(value));
                }
                WeeklyProfile::from_hours(&values).map_err(serde::de::Error::custom)
            }
        }
        deserializer.deserialize_any(Hours)
    }
}

impl Default for WeeklyProfile {
    fn default() -> Self {
        Self::constant(1.0)
    }
}

impl From<WeeklyProfile> for Vec<f32> {
    fn from(p: WeeklyProfile) -> Self {
        p.0.to_vec()
    }
}

impl WeeklyProfile {
    pub fn constant(level: f32) -> Self {
        Self(Box::new([level; HOURS_PER_WEEK]))
    }

    pub fn hours(&self) -> &[f32; HOURS_PER_WEEK] {
        &self.0
    }

    /// From 168 values in 0..=1.
    pub fn from_hours(values: &[f64]) -> Result<Self, String> {
        if values.len() != HOURS_PER_WEEK {
            return Err(format!(
                "must have {HOURS_PER_WEEK} hourly values, got {}",
                values.len()
            ));
        }
        let mut hours = [0f32; HOURS_PER_WEEK];
        for (i, v) in values.iter().enumerate() {
            if !v.is_finite() || !(0.0..=1.0).contains(v) {
                return Err(format!(
                    "hour {i} is {v}; every value must be between 0 and 1"
                ));
            }
            hours[i] = *v as f32;
        }
        Ok(Self(Box::new(hours)))
    }

    /// Parses a schedule: `24/7`, or `;`-separated segments `DAYS [HH:MM-HH:MM[,HH:MM-HH:MM]] [@LEVEL]`
    /// where DAYS is `Mon`, `Mon-Fri`, `Sat,Sun`, `daily` or `weekdays`/`weekends`. A segment without
    /// times covers whole days; an end before the start runs past midnight; `24:00` is allowed as an end;
    /// `@0.5` sets the level (default 1). Later segments overwrite earlier ones hour by hour.
    pub fn parse_schedule(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("schedule is empty".into());
        }
        let lower = text.to_ascii_lowercase();
        if matches!(lower.as_str(), "24/7" | "always" | "continuous") {
            return Ok(Self::constant(1.0));
        }
        let mut hours = [0f32; HOURS_PER_WEEK];
        for segment in lower.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (body, level) = match segment.split_once('@') {
                Some((body, level)) => {
                    let level: f32 = level.trim().parse().map_err(|_| {
                        format!("level '{}' in '{segment}' is not a number", level.trim())
                    })?;
                    if !(0.0..=1.0).contains(&level) {
                        return Err(format!(
                            "level {level} in '{segment}' must be between 0 and 1"
                        ));
                    }
                    (body.trim(), level)
                }
                None => (segment, 1.0),
            };
            let mut parts = body.split_whitespace();
            let days = parse_days(parts.next().unwrap_or_default())
                .map_err(|e| format!("{e} in '{segment}'"))?;
            let ranges: Vec<(f64, f64)> = match parts.next() {
                None => vec![(0.0, 24.0)],
                Some(times) => times
                    .split(',')
                    .map(parse_time_range)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("{e} in '{segment}'"))?,
            };
            if let Some(extra) = parts.next() {
                return Err(format!("unexpected '{extra}' in '{segment}'"));
            }
            for day in days {
                for &(start, end) in &ranges {
                    // A range past midnight spills into the next day (Sunday wraps to Monday).
                    let end = if end <= start { end + 24.0 } else { end };
                    for h in 0..48usize {
                        let overlap =
                            (end.min(h as f64 + 1.0) - start.max(h as f64)).clamp(0.0, 1.0);
                        if overlap > 0.0 {
                            hours[(day * 24 + h) % HOURS_PER_WEEK] = level * overlap as f32;
                        }
                    }
                }
            }
        }
        Ok(Self(Box::new(hours)))
    }

    /// Sum of the 168 values: equivalent full-load hours per week.
    pub fn hours_per_week(&self) -> f64 {
        self.0.iter().map(|v| f64::from(*v)).sum()
    }

    /// Equivalent full-load hours per year.
    pub fn hours_per_year(&self) -> f64 {
        self.hours_per_week() * WEEKS_PER_YEAR
    }

    /// Temporal overlap: Σ min(supply_h, demand_h) / Σ demand_h over the week, in 0..=1
    /// (docs/matching.md, §3). A need with no demand hours overlaps nothing.
    pub fn overlap_with_demand(&self, demand: &WeeklyProfile) -> f64 {
        let demand_sum = demand.hours_per_week();
        if demand_sum <= 0.0 {
            return 0.0;
        }
        let covered: f64 = self
            .0
            .iter()
            .zip(demand.0.iter())
            .map(|(s, d)| f64::from(s.min(*d)))
            .sum();
        (covered / demand_sum).clamp(0.0, 1.0)
    }
}

fn parse_days(spec: &str) -> Result<Vec<usize>, String> {
    match spec {
        "" => return Err("missing days".into()),
        "daily" | "everyday" | "all" => return Ok((0..7).collect()),
        "weekdays" => return Ok((0..5).collect()),
        "weekends" | "weekend" => return Ok(vec![5, 6]),
        _ => {}
    }
    let mut days = Vec::new();
    for item in spec.split(',') {
        match item.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day_index(from)?, day_index(to)?);
                let mut d = from;
                loop {
                    days.push(d);
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days.push(day_index(item)?),
        }
    }
    Ok(days)
}

fn day_index(name: &str) -> Result<usize, String> {
    let name = name.trim();
    DAY_NAMES
        .iter()
        // `get`: the third byte may fall inside a multi-byte character (no day starts with one).
        .position(|d| name.get(..3).is_some_and(|prefix| d.starts_with(prefix)))
        .ok_or_else(|| format!("unknown day '{name}' (use Mon..Sun)"))
}

fn parse_time_range(range: &str) -> Result<(f64, f64), String> {
    let (start, end) = range
        .split_once('-')
        .ok_or_else(|| format!("time range '{range}' must look like 06:00-22:00"))?;
    let (start, end) = (parse_time(start)?, parse_time(end)?);
    if start >= 24.0 {
        return Err(format!("start time in '{range}' must be before 24:00"));
    }
    if start == end {
        return Err(format!("time range '{range}' is empty"));
    }
    Ok((start, end))
}

fn parse_time(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let (h, m) = text.split_once(':').unwrap_or((text, "0"));
    let (h, m): (u32, u32) = match (h.parse(), m.parse()) {
        (Ok(h), Ok(m)) => (h, m),
        _ => return Err(format!("time '{text}' must look like HH:MM")),
    };
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(format!("time '{text}' is not a time of day"));
    }
    Ok(f64::from(h) + f64::from(m) / 60.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekday_day_shift_has_80_hours() {
        let p = WeeklyProfile::parse_schedule("Mon-Fri 06:00-22:00").expect("valid");
        assert_eq!(p.hours_per_week(), 80.0);
        assert_eq!(p.hours()[6], 1.0);
        assert_eq!(p.hours()[5], 0.0);
        assert_eq!(p.hours()[5 * 24 + 6], 0.0, "saturday is off");
    }

    #[test]
    fn night_shift_wraps_past_midnight_and_sunday_wraps_to_monday() {
        let p = WeeklyProfile::parse_schedule("Sun 22:00-06:00").expect("valid");
        assert_eq!(p.hours_per_week(), 8.0);
        assert_eq!(
            p.hours()[0],
            1.0,
            "monday 00:00 belongs to sunday's night shift"
        );
    }

    #[test]
    fn levels_half_hours_and_several_segments() {
        let p = WeeklyProfile::parse_schedule("daily @0.5; Mon 08:30-09:00").expect("valid");
        assert_eq!(p.hours()[8], 0.5);
        assert_eq!(p.hours()[30], 0.5);
        assert_eq!(
            WeeklyProfile::parse_schedule("24/7")
                .expect("valid")
                .hours_per_week(),
            168.0
        );
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        for bad in [
            "",
            "Funday 06:00-07:00",
            "Mon 25:00-26:00",
            "Mon 06:00",
            "Mon 06:00-06:00",
            "Mon @2",
        ] {
            assert!(WeeklyProfile::parse_schedule(bad).is_err(), "{bad}");
        }
    }

    /// Found by fuzzing: a day name whose third byte is inside a character panicked (a 500).
    #[test]
    fn a_day_name_with_multibyte_characters_is_an_error_not_a_panic() {
        for bad in [
            "»ìeE|\r¸",
            "Mö 06:00-07:00",
            "ab€ 06:00-07:00",
            "日曜日 06:00-07:00",
        ] {
            assert!(WeeklyProfile::parse_schedule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overlap_of_day_supply_with_round_the_clock_demand() {
        let day = WeeklyProfile::parse_schedule("daily 08:00-20:00").expect("valid");
        let always = WeeklyProfile::constant(1.0);
        assert!((day.overlap_with_demand(&always) - 0.5).abs() < 1e-9);
        assert!((always.overlap_with_demand(&day) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn monthly_factors_are_scaled_to_a_peak_of_one_and_checked() {
        let winter = [4.0, 4.0, 3.0, 2.0, 1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0];
        let scaled = normalise_monthly_factors(&winter).expect("valid");
        assert_eq!(scaled[0], 1.0);
        assert_eq!(scaled[2], 0.75);
        assert!(
            normalise_monthly_factors(&[1.0; 11])
                .expect_err("11 months")
                .contains("12")
        );
        assert!(normalise_monthly_factors(&[0.0; 12]).is_err());
        let mut negative = [1.0; 12];
        negative[3] = -1.0;
        assert!(normalise_monthly_factors(&negative).is_err());
        // Flat factors are the mean year; a summer-only flow runs 5 months' weeks.
        assert!((weeks_per_year(Some(&[1.0; 12])) - WEEKS_PER_YEAR).abs() < 1e-9);
        let summer = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0];
        assert!((weeks_per_year(Some(&summer)) - 153.0 / 7.0).abs() < 1e-9);
    }
}
