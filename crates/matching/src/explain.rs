//! The sentence every match carries, e.g. "Covers 75 % of your low-temperature heat demand from
//! 2.0 km away; saves about EUR 57,000 and 300 t CO2 a year."
//!
//! Numbers are rounded the way a person would say them: shares to whole percent, distances to 10 m
//! below 1 km and to 0.1 km below 10 km, money and tonnes to two significant figures.

/// The explanation of a match, addressed to the owner of the need. Written into one buffer with
/// integer arithmetic: it is built for every match, so it must be cheap.
pub(crate) fn sentence(
    noun: &str,
    covered_share: f64,
    distance_km: f64,
    savings_eur: f64,
    co2_t: f64,
) -> String {
    let mut s = String::with_capacity(96 + noun.len());
    let percent = covered_share * 100.0;
    if percent.round() >= 100.0 {
        s.push_str("Covers all of your ");
    } else if percent < 1.0 {
        s.push_str("Covers less than 1 % of your ");
    } else {
        s.push_str("Covers ");
        push_grouped(&mut s, percent.round() as u64);
        s.push_str(" % of your ");
    }
    s.push_str(noun);
    s.push_str(" demand ");
    push_distance(&mut s, distance_km);
    let saves = savings_eur.round() >= 1.0;
    let costs = savings_eur.round() <= -1.0;
    let avoids = co2_t >= 0.005;
    let money = |s: &mut String| {
        s.push_str("EUR ");
        push_grouped(s, two_significant(savings_eur.abs()) as u64);
    };
    let tonnes = |s: &mut String| {
        push_tonnes(s, co2_t);
        s.push_str(" t CO2");
    };
    match (saves, costs, avoids) {
        (true, _, true) => {
            s.push_str("; saves about ");
            money(&mut s);
            s.push_str(" and ");
            tonnes(&mut s);
            s.push_str(" a year.");
        }
        (true, _, false) => {
            s.push_str("; saves about ");
            money(&mut s);
            s.push_str(" a year.");
        }
        (false, true, true) => {
            s.push_str("; avoids about ");
            tonnes(&mut s);
            s.push_str(" a year at a net cost of about ");
            money(&mut s);
            s.push_str(" a year.");
        }
        (false, true, false) => {
            s.push_str("; costs about ");
            money(&mut s);
            s.push_str(" a year more than it saves.");
        }
        (false, false, true) => {
            s.push_str("; avoids about ");
            tonnes(&mut s);
            s.push_str(" a year.");
        }
        (false, false, false) => s.push('.'),
    }
    s
}

fn push_distance(s: &mut String, km: f64) {
    if km.is_nan() || km < 0.05 {
        s.push_str("next door");
    } else if km < 1.0 {
        // Whole tens of metres, never "1000 m".
        s.push_str("from ");
        push_grouped(s, ((km * 100.0).round() as u64 * 10).min(990));
        s.push_str(" m away");
    } else if km < 9.95 {
        s.push_str("from ");
        push_decimal(s, km, 1);
        s.push_str(" km away");
    } else {
        s.push_str("from ");
        push_grouped(s, km.round() as u64);
        s.push_str(" km away");
    }
}

/// Tonnes: two significant figures, with decimals only below 10 t.
fn push_tonnes(s: &mut String, t: f64) {
    if t >= 9.95 {
        push_grouped(s, two_significant(t) as u64);
    } else if t >= 0.995 {
        push_decimal(s, t, 1);
    } else if t >= 0.01 {
        push_decimal(s, t, 2);
    } else {
        s.push_str("less than 0.01");
    }
}

/// Rounds a non-negative number to two significant figures (41,234 → 41,000); below 10, to a
/// whole number.
fn two_significant(x: f64) -> f64 {
    if x < 10.0 {
        return x.round();
    }
    let magnitude = 10f64.powi(x.log10().floor() as i32 - 1);
    (x / magnitude).round() * magnitude
}

/// A non-negative number with `decimals` (1 or 2) places: 1.84 → "1.8".
fn push_decimal(s: &mut String, x: f64, decimals: u32) {
    let scale = 10u64.pow(decimals);
    let scaled = (x * scale as f64).round() as u64;
    push_grouped(s, scaled / scale);
    s.push('.');
    let fraction = scaled % scale;
    if decimals == 2 && fraction < 10 {
        s.push('0');
    }
    push_grouped(s, fraction);
}

/// A whole number with thousands separated by commas: 41000 → "41,000".
fn push_grouped(s: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut rest = n;
    loop {
        digits[len] = b'0' + (rest % 10) as u8;
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for i in (0..len).rev() {
        s.push(char::from(digits[i]));
        if i > 0 && i % 3 == 0 {
            s.push(',');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_design_example_reads_as_written() {
        assert_eq!(
            sentence("heat", 0.62, 1.8, 41_234.0, 96.4),
            "Covers 62 % of your heat demand from 1.8 km away; saves about EUR 41,000 and 96 t CO2 a year."
        );
    }

    #[test]
    fn full_cover_short_distance_and_small_figures() {
        assert_eq!(
            sentence("process water", 1.0, 0.347, 880.0, 0.0),
            "Covers all of your process water demand from 350 m away; saves about EUR 880 a year."
        );
        assert_eq!(
            sentence("CO2", 0.004, 0.0, 0.2, 3.456),
            "Covers less than 1 % of your CO2 demand next door; avoids about 3.5 t CO2 a year."
        );
    }

    #[test]
    fn net_costs_are_said_plainly() {
        assert_eq!(
            sentence("fly ash", 0.5, 42.4, -3_160.0, 1_234.0),
            "Covers 50 % of your fly ash demand from 42 km away; avoids about 1,200 t CO2 a year at a net cost of about EUR 3,200 a year."
        );
        assert_eq!(
            sentence("fly ash", 0.25, 1234.0, -12.0, 0.0),
            "Covers 25 % of your fly ash demand from 1,234 km away; costs about EUR 12 a year more than it saves."
        );
        assert_eq!(
            sentence("heat", 0.3, 2.0, 0.0, 0.0),
            "Covers 30 % of your heat demand from 2.0 km away."
        );
    }

    fn with(f: impl FnOnce(&mut String)) -> String {
        let mut s = String::new();
        f(&mut s);
        s
    }

    #[test]
    fn rounding_helpers() {
        assert_eq!(two_significant(41_234.0), 41_000.0);
        assert_eq!(two_significant(999.6), 1_000.0);
        assert_eq!(with(|s| push_grouped(s, 1_234_567)), "1,234,567");
        assert_eq!(with(|s| push_grouped(s, 999)), "999");
        assert_eq!(with(|s| push_grouped(s, 0)), "0");
        assert_eq!(with(|s| push_tonnes(s, 0.456)), "0.46");
        assert_eq!(with(|s| push_tonnes(s, 0.05)), "0.05");
        assert_eq!(with(|s| push_tonnes(s, 3.96)), "4.0");
        assert_eq!(with(|s| push_distance(s, 0.999)), "from 990 m away");
        assert_eq!(with(|s| push_distance(s, 9.96)), "from 10 km away");
        assert_eq!(with(|s| push_distance(s, 1.0)), "from 1.0 km away");
        assert_eq!(with(|s| push_distance(s, f64::NAN)), "next door");
    }
}
