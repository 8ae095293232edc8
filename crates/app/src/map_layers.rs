//! The map's site layer, clustered on the server: a browser draws a region of any size from one
//! small answer per view instead of paging in every site. Sites are grouped on a fixed grid of
//! [`CELL_PX`] screen pixels of the Web Mercator world at the asked zoom level; a cell holding one
//! site gives that site, a cell holding several gives a cluster at their centroid with its count and
//! the zoom level at which it splits. From [`CLUSTER_MAX_ZOOM`] + 1 on, every site stands alone.
//!
//! Sites are public (`GET /sites` lists them all), and so is a business's industry; nothing here
//! says which flows a site holds, so no anonymous flow is placed by it. The match lines are
//! [`crate::live_matches::LiveMatches::lines`].

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Value, json};
use symbiont_core::GeoPoint;
use symbiont_store::SitePlace;

use crate::App;
use crate::error::AppError;

/// The side of a grid cell in screen pixels (MapLibre's own clustering uses a 50 px radius).
pub const CELL_PX: f64 = 64.0;
/// The last zoom level with clusters; above it every site is drawn on its own.
pub const CLUSTER_MAX_ZOOM: u8 = 11;
/// The highest zoom level a client may ask for (as MapLibre's).
pub const MAX_ZOOM: u8 = 22;
/// Web Mercator's latitude limit.
const MAX_LAT: f64 = 85.051_128_78;

/// The part of the world a view shows: west, south, east, north in WGS84 degrees. West may exceed
/// east for a view across the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

impl BoundingBox {
    /// Parses `west,south,east,north`; the error names what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        let [west, south, east, north] = parts.as_slice() else {
            return Err("must be four numbers: west,south,east,north".into());
        };
        let number = |name: &str, text: &str, limit: f64| {
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && v.abs() <= limit)
                .ok_or_else(|| format!("{name} must be a number between -{limit} and {limit}"))
        };
        let bbox = Self {
            west: number("west", west, 180.0)?,
            south: number("south", south, 90.0)?,
            east: number("east", east, 180.0)?,
            north: number("north", north, 90.0)?,
        };
        if bbox.south > bbox.north {
            return Err("south must not be above north".into());
        }
        Ok(bbox)
    }

    fn contains(&self, at: GeoPoint) -> bool {
        let lon_in = if self.west <= self.east {
            (self.west..=self.east).contains(&at.lon)
        } else {
            at.lon >= self.west || at.lon <= self.east
        };
        lon_in && (self.south..=self.north).contains(&at.lat)
    }

    /// The box grown by `margin` degrees on every side (clamped to the world), so that clusters
    /// cut by the view's edge still count their sites just outside it.
    fn grown(&self, margin_lon: f64, margin_lat: f64) -> Self {
        let whole_world =
            self.west <= self.east && self.east - self.west + 2.0 * margin_lon >= 360.0;
        Self {
            west: if whole_world {
                -180.0
            } else {
                wrap(self.west - margin_lon)
            },
            east: if whole_world {
                180.0
            } else {
                wrap(self.east + margin_lon)
            },
            south: (self.south - margin_lat).max(-90.0),
            north: (self.north + margin_lat).min(90.0),
        }
    }
}

fn wrap(lon: f64) -> f64 {
    if lon > 180.0 {
        lon - 360.0
    } else if lon < -180.0 {
        lon + 360.0
    } else {
        lon
    }
}

/// A place in the Web Mercator unit square: x east from the antimeridian, y south from the top.
fn mercator(at: GeoPoint) -> (f64, f64) {
    let lat = at.lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (at.lon + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    (x.clamp(0.0, 1.0), y.clamp(0.0, 1.0))
}

fn from_mercator(x: f64, y: f64) -> GeoPoint {
    let lon = x * 360.0 - 180.0;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * y))
        .sinh()
        .atan()
        .to_degrees();
    GeoPoint { lat, lon }
}

/// Grid cells across the world at `zoom`.
fn cells_across(zoom: u8) -> f64 {
    256.0 * 2f64.powi(i32::from(zoom)) / CELL_PX
}

fn cell_of(x: f64, y: f64, zoom: u8) -> (i64, i64) {
    let n = cells_across(zoom);
    ((x * n).floor() as i64, (y * n).floor() as i64)
}

/// Sites sharing one grid cell.
struct Group<'a> {
    first: &'a SitePlace,
    count: usize,
    sum: (f64, f64),
    min: (f64, f64),
    max: (f64, f64),
}

/// The site layer of `places` at `zoom` within `bbox` (the whole world without one), as the
/// GeoJSON feature collection `GET /map/sites` serves: one `Point` per lone site (`site_id`,
/// `business_id`, `industry`) or per cluster (`cluster: true`, `count`, `expansion_zoom`), plus
/// `zoom`, `region` (the bounds of every site, null when there is none) and `sites` (how many the
/// features stand for).
pub fn site_layer(places: &[SitePlace], zoom: u8, bbox: Option<BoundingBox>) -> Value {
    let zoom = zoom.min(MAX_ZOOM);
    // One cell's width in degrees at this zoom: the margin that completes the edge's clusters.
    let cell_lon = 360.0 / cells_across(zoom);
    let view = bbox.map(|b| b.grown(cell_lon, cell_lon.min(10.0)));
    let mut region: Option<BoundingBox> = None;
    let mut groups: BTreeMap<(i64, i64), Group<'_>> = BTreeMap::new();
    let mut lone = Vec::new();
    for place in places {
        let at = place.location;
        region = Some(match region {
            None => BoundingBox {
                west: at.lon,
                south: at.lat,
                east: at.lon,
                north: at.lat,
            },
            Some(r) => BoundingBox {
                west: r.west.min(at.lon),
                south: r.south.min(at.lat),
                east: r.east.max(at.lon),
                north: r.north.max(at.lat),
            },
        });
        if view.is_some_and(|v| !v.contains(at)) {
            continue;
        }
        if zoom > CLUSTER_MAX_ZOOM {
            lone.push(place);
            continue;
        }
        let (x, y) = mercator(at);
        groups
            .entry(cell_of(x, y, zoom))
            .and_modify(|g| {
                g.count += 1;
                g.sum = (g.sum.0 + x, g.sum.1 + y);
                g.min = (g.min.0.min(x), g.min.1.min(y));
                g.max = (g.max.0.max(x), g.max.1.max(y));
            })
            .or_insert(Group {
                first: place,
                count: 1,
                sum: (x, y),
                min: (x, y),
                max: (x, y),
            });
    }
    let mut features = Vec::with_capacity(groups.len() + lone.len());
    let mut shown = lone.len();
    for place in lone {
        features.push(site_feature(place));
    }
    for group in groups.values() {
        shown += group.count;
        if group.count == 1 {
            features.push(site_feature(group.first));
            continue;
        }
        let n = group.count as f64;
        let centre = from_mercator(group.sum.0 / n, group.sum.1 / n);
        features.push(json!({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round6(centre.lon), round6(centre.lat)]},
            "properties": {
                "cluster": true,
                "count": group.count,
                "expansion_zoom": expansion_zoom(group, zoom),
            },
        }));
    }
    json!({
        "type": "FeatureCollection",
        "zoom": zoom,
        "region": region.map(|r| [r.west, r.south, r.east, r.north]),
        "sites": shown,
        "features": features,
    })
}

/// The first zoom level at which a cluster's sites fall into more than one cell (sites at one
/// place never part: the level after the last clustered one).
fn expansion_zoom(group: &Group<'_>, zoom: u8) -> u8 {
    (zoom + 1..=CLUSTER_MAX_ZOOM)
        .find(|&z| cell_of(group.min.0, group.min.1, z) != cell_of(group.max.0, group.max.1, z))
        .unwrap_or(CLUSTER_MAX_ZOOM + 1)
}

fn site_feature(place: &SitePlace) -> Value {
    json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [place.location.lon, place.location.lat]},
        "properties": {
            "site_id": place.id,
            "business_id": place.business_id,
            "industry": place.industry,
        },
    })
}

fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

impl App {
    /// `GET /map/sites`: the site layer at `zoom` within `bbox`, as JSON bytes.
    pub async fn site_layer(&self, zoom: u8, bbox: Option<BoundingBox>) -> Result<Bytes, AppError> {
        let places = self.store.site_places().await?;
        let layer = tokio::task::spawn_blocking(move || {
            crate::json_body::to_vec(&site_layer(&places, zoom, bbox))
        })
        .await
        .map_err(|e| AppError::internal("the site layer task", e))??;
        Ok(Bytes::from(layer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn place(lat: f64, lon: f64) -> SitePlace {
        SitePlace {
            id: Uuid::now_v7(),
            business_id: Uuid::now_v7(),
            location: GeoPoint { lat, lon },
            industry: "C10.51".into(),
        }
    }

    fn counts(layer: &Value) -> Vec<u64> {
        layer["features"]
            .as_array()
            .expect("features")
            .iter()
            .map(|f| f["properties"]["count"].as_u64().unwrap_or(1))
            .collect()
    }

    #[test]
    fn mercator_round_trips() {
        for (lat, lon) in [(0.0, 0.0), (51.45, 7.01), (-33.9, 151.2), (84.0, -179.0)] {
            let (x, y) = mercator(GeoPoint { lat, lon });
            let back = from_mercator(x, y);
            assert!((back.lat - lat).abs() < 1e-9 && (back.lon - lon).abs() < 1e-9);
        }
    }

    #[test]
    fn nearby_sites_cluster_at_low_zoom_and_part_when_zoomed_in() {
        // Two sites 300 m apart and one 40 km away.
        let places = vec![
            place(51.4500, 7.0100),
            place(51.4527, 7.0100),
            place(51.8000, 7.0100),
        ];
        let far_out = site_layer(&places, 5, None);
        assert_eq!(
            counts(&far_out),
            vec![3],
            "one cluster of all three at zoom 5"
        );
        assert_eq!(far_out["sites"], 3);
        let cluster = &far_out["features"][0]["properties"];
        assert_eq!(cluster["cluster"], true);
        let split = cluster["expansion_zoom"].as_u64().expect("a zoom level");
        assert!(
            (6..=9).contains(&split),
            "the 40 km site parts early: {split}"
        );

        let close = site_layer(&places, 11, None);
        let mut sizes = counts(&close);
        sizes.sort_unstable();
        assert_eq!(sizes, vec![1, 2], "the pair still shares a cell at zoom 11");
        let lone = site_layer(&places, 12, None);
        assert_eq!(
            counts(&lone),
            vec![1, 1, 1],
            "every site alone above the last cluster zoom"
        );
        let site = lone["features"]
            .as_array()
            .expect("features")
            .iter()
            .find(|f| f["properties"]["site_id"] == json!(places[2].id))
            .expect("the far site is listed");
        assert_eq!(site["geometry"]["coordinates"], json!([7.01, 51.8]));
        assert_eq!(site["properties"]["industry"], "C10.51");
    }

    #[test]
    fn the_view_limits_the_features_but_not_the_region() {
        let places = vec![place(51.45, 7.01), place(48.85, 2.35)];
        let ruhr = BoundingBox::parse("6.5,51.2,7.5,51.7").expect("a box");
        let layer = site_layer(&places, 12, Some(ruhr));
        assert_eq!(layer["sites"], 1);
        assert_eq!(layer["region"], json!([2.35, 48.85, 7.01, 51.45]));
        let empty = site_layer(&[], 9, None);
        assert_eq!(empty["region"], Value::Null);
        assert_eq!(empty["features"], json!([]));
    }

    #[test]
    fn a_view_across_the_antimeridian_holds_both_ends() {
        let places = vec![place(-17.7, 178.4), place(-14.3, -170.7), place(0.0, 0.0)];
        let pacific = BoundingBox::parse("170,-30,-160,0").expect("a box");
        assert_eq!(site_layer(&places, 14, Some(pacific))["sites"], 2);
    }

    #[test]
    fn bad_boxes_are_refused_with_a_reason() {
        assert!(
            BoundingBox::parse("1,2,3")
                .expect_err("refused")
                .contains("four numbers")
        );
        assert!(
            BoundingBox::parse("1,2,3,x")
                .expect_err("refused")
                .contains("north")
        );
        assert!(
            BoundingBox::parse("200,2,3,4")
                .expect_err("refused")
                .contains("west")
        );
        assert!(
            BoundingBox::parse("1,60,3,50")
                .expect_err("refused")
                .contains("south")
        );
    }
}
