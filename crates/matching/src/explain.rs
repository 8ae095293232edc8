//! The sentence every match carries, e.g. "Covers 75 % of your low-temperature heat demand from
//! 2.0 km away; saves about EUR 57,000 and 300 t CO2 a year."
//!
//! Numbers are rounded the way a person would say them: shares to whole percent, distances to 10 m
//! below 1 km and to 0.1 km below 10 km, money and tonnes to two significant figures.

/// The explanation of a match, addressed to the owner of the need.
pub(crate) fn sentence(
    noun: &str,
    covered_share: f64,
    distance_km: f64,
    savings_eur: f64,
    co2_t: f64,
) -> String {
    let mut s = String::with_capacity(112);
    let percent = covered_share * 100.0;
    if percent.round() >= 100.0 {
        s.push_str("Covers all of your ");
    } else if percent < 1.0 {
        s.push_str("Covers less than 1 % of your ");
    } else {
        s.push_str("Covers ");
        s.push_str(&format!("{percent:.0}"));
        s.push_str(" % of your ");
    }
    s.push_str(noun);
    s.push_str(" demand ");
    s.push_str(&distance_phrase(distance_km));
    let saves = savings_eur.round() >= 1.0;
    let costs = savings_eur.round() <= -1.0;
    let avoids = co2_t >= 0.005;
    let money = || {
        format!(
            "EUR {}",
            group_thousands(two_significant(savings_eur.abs()))
        )
    };
    let tonnes = || format!("{} t CO2", tonnes(co2_t));
    match (saves, costs, avoids) {
        (true, _, true) => s.push_str(&format!(
            "; saves about {} and {} a year.",
            money(),
            tonnes()
        )),
        (true, _, false) => s.push_str(&format!("; saves about {} a year.", money())),
        (false, true, true) => s.push_str(&format!(
            "; avoids about {} a year at a net cost of about {} a year.",
            tonnes(),
            money()
        )),
        (false, true, false) => s.push_str(&format!(
            "; costs about {} a year more than it saves.",
            money()
        )),
        (false, false, true) => s.push_str(&format!("; avoids about {} a year.", tonnes())),
        (false, false, false) => s.push('.'),
    }
    s
}

fn distance_phrase(km: f64) -> String {
    if km < 0.05 {
        "next door".to_string()
    } else if km < 1.0 {
        // Whole tens of metres, never "1000 m".
        let metres = ((km * 100.0).round() * 10.0).min(990.0);
        format!("from {metres:.0} m away")
    } else if km < 9.95 {
        format!("from {km:.1} km away")
    } else {
        format!("from {} km away", group_thousands(km.round()))
    }
}

/// Tonnes: two significant figures, with decimals only below 10 t.
fn tonnes(t: f64) -> String {
    if t >= 9.95 {
        group_thousands(two_significant(t))
    } else if t >= 0.995 {
        format!("{t:.1}")
    } else if t >= 0.01 {
        format!("{t:.2}")
    } else {
        "less than 0.01".to_string()
    }
}

/// Rounds a non-negative number of at least 10 to two significant figures (41,234 → 41,000).
fn two_significant(x: f64) -> f64 {
    if x < 10.0 {
        return x.round();
    }
    let magnitude = 10f64.powi(x.log10().floor() as i32 - 1);
    (x / magnitude).round() * magnitude
}

/// A whole number with thousands separated by commas: 41000 → "41,000".
fn group_thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if x.round() < 0.0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
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

    #[test]
    fn rounding_helpers() {
        assert_eq!(two_significant(41_234.0), 41_000.0);
        assert_eq!(two_significant(999.6), 1_000.0);
        assert_eq!(group_thousands(1_234_567.0), "1,234,567");
        assert_eq!(group_thousands(999.0), "999");
        assert_eq!(tonnes(0.456), "0.46");
        assert_eq!(distance_phrase(0.999), "from 990 m away");
        assert_eq!(distance_phrase(9.96), "from 10 km away");
    }
}
