//! WGS84 points and great-circle distance.

use serde::{Deserialize, Serialize};

/// Mean Earth radius in km (IUGG), the usual constant for haversine distances.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// A WGS84 position in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(description = "WGS84 degrees."))]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    #[cfg_attr(feature = "openapi", schema(minimum = -90, maximum = 90))]
    pub lat: f64,
    #[cfg_attr(feature = "openapi", schema(minimum = -180, maximum = 180))]
    pub lon: f64,
}

impl GeoPoint {
    pub fn is_valid(&self) -> bool {
        self.lat.is_finite()
            && self.lon.is_finite()
            && (-90.0..=90.0).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lon)
    }

    /// Latitude/longitude bounds of a circle of `radius_km` around the point, for index pre-filters.
    /// Conservative: the box always contains the circle (longitude widens towards the poles).
    pub fn bounding_box(&self, radius_km: f64) -> (GeoPoint, GeoPoint) {
        let angle = radius_km / EARTH_RADIUS_KM;
        let dlat = angle.to_degrees();
        // Widest longitude of a spherical cap: asin(sin(angle) / cos(lat)); past a pole, everything.
        let ratio = angle.sin() / self.lat.to_radians().cos();
        let dlon = if angle >= std::f64::consts::FRAC_PI_2 || !(0.0..1.0).contains(&ratio) {
            180.0
        } else {
            // 0.1 % margin against rounding, so the box always contains the circle.
            (ratio.asin().to_degrees() * 1.001).min(180.0)
        };
        (
            GeoPoint {
                lat: (self.lat - dlat).max(-90.0),
                lon: (self.lon - dlon).max(-180.0),
            },
            GeoPoint {
                lat: (self.lat + dlat).min(90.0),
                lon: (self.lon + dlon).min(180.0),
            },
        )
    }
}

/// Great-circle distance in km by the haversine formula.
pub fn haversine_km(a: GeoPoint, b: GeoPoint) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// Side of the square cells anonymous sites are snapped to before a stranger's view is computed.
/// A stranger can learn which cell a hidden site is in, never where in it (ADR 0013).
pub const GRID_KM: f64 = 5.0;

/// km per degree of latitude on the sphere the grid is laid on (R = 6371 km).
const KM_PER_DEGREE: f64 = 6371.0 * std::f64::consts::PI / 180.0;

/// The centre of the ~`GRID_KM` cell holding `point`. Rows are fixed bands of latitude; each row
/// is cut into cells `GRID_KM` wide at its centre latitude, so cells stay roughly square. Pure and
/// stateless: the same point always lands on the same centre, so nothing has to be stored, and
/// averaging many reads learns nothing more than one read.
pub fn coarsen(point: GeoPoint) -> GeoPoint {
    if !point.is_valid() {
        return point;
    }
    let lat_step = GRID_KM / KM_PER_DEGREE;
    let row = (point.lat / lat_step).floor();
    let lat = ((row + 0.5) * lat_step).clamp(-90.0, 90.0);
    // Near the poles a cell would span the whole circle; 0.01 keeps the step finite.
    let lon_step = lat_step / lat.to_radians().cos().max(0.01);
    let lon = (((point.lon / lon_step).floor() + 0.5) * lon_step).clamp(-180.0, 180.0);
    GeoPoint { lat, lon }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paris_to_london_is_about_344_km() {
        let paris = GeoPoint {
            lat: 48.8566,
            lon: 2.3522,
        };
        let london = GeoPoint {
            lat: 51.5074,
            lon: -0.1278,
        };
        let d = haversine_km(paris, london);
        assert!((d - 343.5).abs() < 2.0, "{d}");
    }

    #[test]
    fn bounding_box_contains_the_circle() {
        let p = GeoPoint {
            lat: 60.0,
            lon: 10.0,
        };
        let (lo, hi) = p.bounding_box(50.0);
        let east = GeoPoint {
            lat: 60.0,
            lon: hi.lon,
        };
        assert!(haversine_km(p, east) >= 50.0);
        let north = GeoPoint {
            lat: hi.lat,
            lon: 10.0,
        };
        assert!(haversine_km(p, north) >= 49.9);
        assert!(lo.lat < 60.0 && lo.lon < 10.0);
    }
}
