// The map: an offline Natural Earth basemap, sites as the server clusters them for the view
// (GET /api/v1/map/sites) drawn as symbols by industry, offers and needs as markers (a viewport
// query), matches as lines coloured by score and weighted by savings (GET /api/v1/map/matches).
// Icons are drawn on a canvas, so no glyph or sprite server is needed.

import { Map as MapLibre, NavigationControl, ScaleControl, setWorkerUrl, Marker } from 'maplibre-gl';

// The build names the worker and the basemap with their content hashes (build.mjs).
setWorkerUrl(__WORKER_URL__);

/** NACE sections: colour and the label of the legend. */
export const SECTIONS = {
  A: ['#4d7c0f', 'Agriculture'],
  B: ['#78350f', 'Mining'],
  C: ['#1d4ed8', 'Manufacturing'],
  D: ['#b91c1c', 'Energy'],
  E: ['#0f766e', 'Water and waste'],
  F: ['#92400e', 'Construction'],
  G: ['#6d28d9', 'Trade'],
  H: ['#374151', 'Transport'],
  I: ['#be185d', 'Hospitality'],
  J: ['#0e7490', 'Information'],
  other: ['#475569', 'Other'],
};

/** Category families: colour of offer and need markers. */
export const FAMILIES = {
  heat: '#c2410c',
  steam: '#9a3412',
  cooling: '#0369a1',
  water: '#1d4ed8',
  gas: '#6b21a8',
  material: '#4d7c0f',
  capacity: '#334155',
  other: '#57534e',
};

/** Score stops of the match lines (dark enough on the light basemap). */
export const SCORE_STOPS = [
  [0.3, '#d95f02'],
  [0.6, '#7570b3'],
  [0.9, '#1b9e77'],
];

export const familyColour = (family) => FAMILIES[family] || FAMILIES.other;
export const sectionOf = (industry) => {
  const letter = (industry || '').charAt(0).toUpperCase();
  return SECTIONS[letter] ? letter : 'other';
};

function canvasImage(size, draw) {
  const ratio = 2;
  const canvas = document.createElement('canvas');
  canvas.width = size * ratio;
  canvas.height = size * ratio;
  const ctx = canvas.getContext('2d');
  ctx.scale(ratio, ratio);
  draw(ctx, size);
  return { image: ctx.getImageData(0, 0, canvas.width, canvas.height), options: { pixelRatio: ratio } };
}

function siteIcon(colour, letter) {
  return canvasImage(22, (ctx, s) => {
    ctx.fillStyle = colour;
    ctx.strokeStyle = '#ffffff';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.roundRect(2, 2, s - 4, s - 4, 4);
    ctx.fill();
    ctx.stroke();
    ctx.fillStyle = '#ffffff';
    ctx.font = 'bold 12px sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(letter === 'other' ? '•' : letter, s / 2, s / 2 + 1);
  });
}

function flowIcon(colour, offer) {
  return canvasImage(14, (ctx, s) => {
    ctx.fillStyle = offer ? colour : '#ffffff';
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    if (offer) {
      ctx.moveTo(s / 2, 1.5);
      ctx.lineTo(s - 1.5, s - 1.5);
      ctx.lineTo(1.5, s - 1.5);
    } else {
      ctx.moveTo(1.5, 1.5);
      ctx.lineTo(s - 1.5, 1.5);
      ctx.lineTo(s / 2, s - 1.5);
    }
    ctx.closePath();
    ctx.fill();
    ctx.stroke();
  });
}

function clusterIcon(label) {
  const size = label.length > 3 ? 40 : 32;
  return canvasImage(size, (ctx, s) => {
    ctx.fillStyle = 'rgba(30, 64, 175, 0.85)';
    ctx.strokeStyle = '#ffffff';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(s / 2, s / 2, s / 2 - 2, 0, Math.PI * 2);
    ctx.fill();
    ctx.stroke();
    ctx.fillStyle = '#ffffff';
    ctx.font = 'bold 12px sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(label, s / 2, s / 2 + 1);
  });
}

const empty = () => ({ type: 'FeatureCollection', features: [] });

/** A cluster's label: 7, 950, 1.2k, 15k. */
export function countLabel(count) {
  if (count < 1000) return String(count);
  return count < 10000 ? `${(count / 1000).toFixed(1)}k` : `${Math.round(count / 1000)}k`;
}

/**
 * Creates the map framing `bounds` ([west, south, east, north]), or at `center` and `zoom`. Its
 * camera is set at once, so the view's data can be asked for while the style loads.
 */
export function createMap(container, { center, zoom, bounds }) {
  const map = new MapLibre({
    container,
    center,
    zoom,
    bounds: bounds ? [[bounds[0], bounds[1]], [bounds[2], bounds[3]]] : undefined,
    fitBoundsOptions: { padding: 40, maxZoom: 12 },
    // Symbols appear at once rather than fading in over 300 ms.
    fadeDuration: 0,
    attributionControl: { compact: true, customAttribution: 'Basemap: Natural Earth' },
    style: {
      version: 8,
      sources: {
        // Natural Earth 1:50m has no detail past zoom 6: tiles beyond it are cut from zoom 6's.
        basemap: { type: 'geojson', data: __BASEMAP_URL__, maxzoom: 6 },
        sites: { type: 'geojson', data: empty() },
        flows: { type: 'geojson', data: empty() },
        matches: { type: 'geojson', data: empty() },
        pick: { type: 'geojson', data: empty() },
      },
      layers: [
        { id: 'water', type: 'background', paint: { 'background-color': '#c9dbe8' } },
        { id: 'land', type: 'fill', source: 'basemap', filter: ['==', ['get', 'kind'], 'land'], paint: { 'fill-color': '#f1efe9' } },
        {
          id: 'borders',
          type: 'line',
          source: 'basemap',
          filter: ['==', ['get', 'kind'], 'border'],
          paint: { 'line-color': '#8d8a83', 'line-width': 1, 'line-dasharray': [3, 2] },
        },
        {
          id: 'matches',
          type: 'line',
          source: 'matches',
          layout: { 'line-cap': 'round', 'line-sort-key': ['get', 'score'] },
          paint: {
            'line-color': ['interpolate', ['linear'], ['get', 'score'], ...SCORE_STOPS.flat()],
            'line-width': ['interpolate', ['linear'], ['get', 'savings_log'], 0, 0.75, 4, 1.25, 5, 2.5, 6, 5],
            // Weak matches fade, so that the strong ones stand out where many cross.
            'line-opacity': ['interpolate', ['linear'], ['get', 'score'], 0.3, 0.25, 0.9, 0.9],
          },
        },
        {
          id: 'match-selected',
          type: 'line',
          source: 'matches',
          filter: ['==', ['get', 'id'], ''],
          layout: { 'line-cap': 'round' },
          paint: { 'line-color': '#111827', 'line-width': 8, 'line-opacity': 0.45 },
        },
        {
          id: 'clusters',
          type: 'symbol',
          source: 'sites',
          filter: ['has', 'cluster'],
          layout: {
            'icon-image': ['concat', 'cluster-', ['get', 'label']],
            'icon-allow-overlap': true,
          },
        },
        {
          id: 'sites',
          type: 'symbol',
          source: 'sites',
          filter: ['!', ['has', 'cluster']],
          layout: { 'icon-image': ['concat', 'site-', ['get', 'section']], 'icon-allow-overlap': true },
        },
        {
          id: 'flows',
          type: 'symbol',
          source: 'flows',
          minzoom: 12,
          layout: {
            'icon-image': ['concat', 'flow-', ['get', 'direction'], '-', ['get', 'family']],
            'icon-allow-overlap': true,
            'icon-offset': ['get', 'offset'],
          },
        },
        {
          id: 'pick',
          type: 'circle',
          source: 'pick',
          paint: { 'circle-radius': 8, 'circle-color': '#111827', 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 3 },
        },
      ],
    },
  });
  map.addControl(new NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new ScaleControl(), 'bottom-right');
  // Icons are drawn when the style first asks for one.
  map.setMissingStyleImageResolver((id) => {
    if (map.hasImage(id)) return;
    let made = null;
    if (id.startsWith('cluster-')) made = clusterIcon(id.slice(8));
    else if (id.startsWith('site-')) {
      const section = id.slice(5);
      made = siteIcon((SECTIONS[section] || SECTIONS.other)[0], section);
    } else if (id.startsWith('flow-')) {
      const [, direction, family] = id.split('-');
      made = flowIcon(familyColour(family), direction === 'offer');
    }
    if (made) map.addImage(id, made.image, made.options);
  });
  // Resolves once the style and layers are in place (see whenLoaded).
  map.symbiontLoaded = new Promise((resolve) => map.once('load', () => resolve(map)));
  return map;
}

/** Resolves once the map's style and layers are in place. */
export const whenLoaded = (map) => map.symbiontLoaded;

/** A site marker for the location picked on the map (site form). */
export function pickLocation(map, lngLat) {
  map.getSource('pick').setData({
    type: 'FeatureCollection',
    features: lngLat ? [{ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [lngLat.lng, lngLat.lat] } }] : [],
  });
}

export { Marker };
