//! Units and their conversion to a category's canonical unit.
//!
//! Every category has a physical [`Dimension`]; its canonical unit is `kW` for power, `MWh/year` for
//! energy, `t/year` for mass and `m3/year` for volume. A quantity is an amount per period (`t/day`,
//! `l/s`) or a power (`kW`). Conversions:
//! - hourly and faster rates (`t/h`, `l/s`, `kW`) run during the flow's weekly profile, so their annual
//!   amount is `rate per hour × profile full-load hours per year`;
//! - daily, weekly, monthly and yearly amounts are per calendar period (365.2425 days a year);
//! - power and energy are the same quantity seen two ways (`MWh/year = kW × hours / 1000`), which is
//!   how a heat offer in `MWh/year` and a heat need in `kW` become comparable.

use serde::{Deserialize, Serialize};

use crate::profile::WEEKS_PER_YEAR;

const DAYS_PER_YEAR: f64 = 365.2425;

/// The physical dimension of a resource category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Power,
    Energy,
    Mass,
    Volume,
}

impl Dimension {
    /// The unit every quantity of this dimension is stored and compared in.
    pub fn canonical_unit(self) -> &'static str {
        match self {
            Dimension::Power => "kW",
            Dimension::Energy => "MWh/year",
            Dimension::Mass => "t/year",
            Dimension::Volume => "m3/year",
        }
    }

    /// The amount unit prices and transport costs are quoted per (EUR per MWh, t or m3).
    pub fn amount_unit(self) -> &'static str {
        match self {
            Dimension::Power | Dimension::Energy => "MWh",
            Dimension::Mass => "t",
            Dimension::Volume => "m3",
        }
    }

    fn amount_kind(self) -> AmountKind {
        match self {
            Dimension::Power | Dimension::Energy => AmountKind::Energy,
            Dimension::Mass => AmountKind::Mass,
            Dimension::Volume => AmountKind::Volume,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AmountKind {
    Energy,
    Mass,
    Volume,
}

impl AmountKind {
    fn describe(self) -> &'static str {
        match self {
            AmountKind::Energy => "an energy or power (kW, MWh/year, GJ/h ...)",
            AmountKind::Mass => "a mass (t/year, t/day, kg/h ...)",
            AmountKind::Volume => "a volume (m3/year, m3/h, l/s ...)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Period {
    /// Rate per hour of operation.
    Hour(f64),
    /// Amount per calendar period, as periods per year.
    Calendar(f64),
}

/// A parsed unit: how much canonical amount (MWh, t, m3) one unit is, and per what period.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ParsedUnit {
    kind: AmountKind,
    amount_factor: f64,
    period: Period,
}

/// Why a unit cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    #[error("unknown unit '{0}'; use e.g. kW, MWh/year, t/day, kg/h, m3/h or l/s")]
    Unknown(String),
    #[error("'{unit}' is {found}, but this category is measured as {expected}")]
    WrongDimension {
        unit: String,
        found: &'static str,
        expected: &'static str,
    },
    #[error("'{0}' is an amount without a period; say per what, e.g. '{0}/year'")]
    MissingPeriod(String),
    #[error("the weekly profile has no operating hours, so a rate cannot become an annual amount")]
    NoOperatingHours,
}

fn parse_unit(text: &str) -> Result<ParsedUnit, UnitError> {
    let unknown = || UnitError::Unknown(text.to_string());
    let cleaned = text.trim().replace('³', "3").replace(' ', "");
    let (numerator, denominator) = match cleaned.split_once('/') {
        Some((n, d)) => (n, Some(d)),
        None => (cleaned.as_str(), None),
    };
    // Power units are already rates per hour (1 kW for one hour is 0.001 MWh).
    let power = match numerator {
        "W" => Some(1e-6),
        "kW" | "kWth" => Some(1e-3),
        "MW" | "MWth" => Some(1.0),
        "GW" => Some(1e3),
        _ => None,
    };
    if let Some(factor) = power {
        if denominator.is_some() {
            return Err(unknown());
        }
        return Ok(ParsedUnit {
            kind: AmountKind::Energy,
            amount_factor: factor,
            period: Period::Hour(1.0),
        });
    }
    let (kind, amount_factor) = match numerator {
        "Wh" => (AmountKind::Energy, 1e-6),
        "kWh" => (AmountKind::Energy, 1e-3),
        "MWh" => (AmountKind::Energy, 1.0),
        "GWh" => (AmountKind::Energy, 1e3),
        "MJ" => (AmountKind::Energy, 1.0 / 3600.0),
        "GJ" => (AmountKind::Energy, 1.0 / 3.6),
        "TJ" => (AmountKind::Energy, 1000.0 / 3.6),
        "kg" => (AmountKind::Mass, 1e-3),
        "t" | "tonne" | "tonnes" => (AmountKind::Mass, 1.0),
        "kt" => (AmountKind::Mass, 1e3),
        "l" | "L" => (AmountKind::Volume, 1e-3),
        "m3" | "Nm3" => (AmountKind::Volume, 1.0),
        "ML" | "Ml" => (AmountKind::Volume, 1e3),
        _ => return Err(unknown()),
    };
    let Some(denominator) = denominator else {
        return Err(UnitError::MissingPeriod(text.trim().to_string()));
    };
    let period = match denominator {
        "s" | "sec" => Period::Hour(3600.0),
        "min" => Period::Hour(60.0),
        "h" | "hr" | "hour" => Period::Hour(1.0),
        "d" | "day" => Period::Calendar(DAYS_PER_YEAR),
        "wk" | "week" => Period::Calendar(WEEKS_PER_YEAR),
        "mo" | "month" => Period::Calendar(12.0),
        "a" | "y" | "yr" | "year" => Period::Calendar(1.0),
        _ => return Err(unknown()),
    };
    Ok(ParsedUnit {
        kind,
        amount_factor,
        period,
    })
}

/// A quantity converted for a category: its canonical value and its annual amount.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Converted {
    /// In the category's canonical unit (kW for power, otherwise per year).
    pub canonical: f64,
    /// Amount per year in the dimension's amount unit (MWh, t, m3).
    pub annual_amount: f64,
}

/// Converts `value unit` to the canonical unit of `dimension`, using `hours_per_year` of operation
/// (from the weekly profile) where a rate must become an annual amount or the other way round.
pub fn convert(
    value: f64,
    unit: &str,
    dimension: Dimension,
    hours_per_year: f64,
) -> Result<Converted, UnitError> {
    let parsed = parse_unit(unit)?;
    let expected = dimension.amount_kind();
    if parsed.kind != expected {
        return Err(UnitError::WrongDimension {
            unit: unit.to_string(),
            found: parsed.kind.describe(),
            expected: expected.describe(),
        });
    }
    let needs_hours = matches!(parsed.period, Period::Hour(_)) || dimension == Dimension::Power;
    if needs_hours && hours_per_year <= 0.0 {
        return Err(UnitError::NoOperatingHours);
    }
    let annual_amount = match parsed.period {
        Period::Hour(per_hour) => value * parsed.amount_factor * per_hour * hours_per_year,
        Period::Calendar(per_year) => value * parsed.amount_factor * per_year,
    };
    let canonical = match dimension {
        // Average power while operating: MWh/year × 1000 / full-load hours.
        Dimension::Power => annual_amount * 1000.0 / hours_per_year,
        Dimension::Energy | Dimension::Mass | Dimension::Volume => annual_amount,
    };
    Ok(Converted {
        canonical,
        annual_amount,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALWAYS: f64 = 168.0 * WEEKS_PER_YEAR;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn kilowatts_become_megawatt_hours_a_year_through_the_profile() {
        let c = convert(100.0, "kW", Dimension::Energy, 2000.0).expect("valid");
        assert!(close(c.annual_amount, 200.0));
        let c = convert(200.0, "MWh/year", Dimension::Power, 2000.0).expect("valid");
        assert!(close(c.canonical, 100.0));
    }

    #[test]
    fn tonnes_per_day_and_litres_per_second() {
        let c = convert(2.0, "t/day", Dimension::Mass, ALWAYS).expect("valid");
        assert!(close(c.canonical, 2.0 * DAYS_PER_YEAR));
        let per_hour = convert(1.0, "l/s", Dimension::Volume, 1.0).expect("valid");
        let m3h = convert(3.6, "m3/h", Dimension::Volume, 1.0).expect("valid");
        assert!(close(per_hour.canonical, m3h.canonical));
    }

    #[test]
    fn wrong_dimension_and_unknown_units_are_refused() {
        assert!(matches!(
            convert(1.0, "t/day", Dimension::Power, ALWAYS),
            Err(UnitError::WrongDimension { .. })
        ));
        assert!(matches!(
            convert(1.0, "furlong", Dimension::Mass, ALWAYS),
            Err(UnitError::Unknown(_))
        ));
        assert!(matches!(
            convert(1.0, "t", Dimension::Mass, ALWAYS),
            Err(UnitError::MissingPeriod(_))
        ));
        assert!(matches!(
            convert(1.0, "kW", Dimension::Power, 0.0),
            Err(UnitError::NoOperatingHours)
        ));
    }
}
