// Builds the dashboard into dist/: the app bundled by esbuild, MapLibre's worker beside it, and
// the offline basemap converted from Natural Earth (world-atlas) TopoJSON to GeoJSON.
// Run through scripts/build-web; dist/ is committed and embedded in the binary.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync, rmSync, readdirSync } from 'node:fs';
import { gzipSync, constants } from 'node:zlib';
import { createRequire } from 'node:module';
import { feature, mesh } from 'topojson-client';

const require = createRequire(import.meta.url);
const here = new URL('.', import.meta.url).pathname;
const dist = `${here}dist`;
rmSync(dist, { recursive: true, force: true });
const version = (name) => createHash('sha256').update(readFileSync(`${dist}/${name}`)).digest('hex').slice(0, 12);
mkdirSync(dist, { recursive: true });

// MapLibre 6 runs its tiling in a module worker loaded from its own file.
const worker = readFileSync(require.resolve('maplibre-gl/dist/maplibre-gl-worker.mjs'), 'utf8')
  .replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
writeFileSync(`${dist}/maplibre-gl-worker.js`, worker);

// Basemap: Natural Earth 1:50m land and country borders, coordinates rounded to ~100 m.
const round = (value) => (Array.isArray(value) ? value.map(round) : Math.round(value * 1000) / 1000);
const roundGeometry = (g) => ({ type: g.type, coordinates: round(g.coordinates) });
const land = JSON.parse(readFileSync(require.resolve('world-atlas/land-50m.json'), 'utf8'));
const countries = JSON.parse(readFileSync(require.resolve('world-atlas/countries-50m.json'), 'utf8'));
const landFeature = feature(land, land.objects.land);
const landGeometries = landFeature.type === 'FeatureCollection' ? landFeature.features.map((f) => f.geometry) : [landFeature.geometry];
const borders = mesh(countries, countries.objects.countries, (a, b) => a !== b);
const basemap = {
  type: 'FeatureCollection',
  features: [
    ...landGeometries.map((g) => ({ type: 'Feature', properties: { kind: 'land' }, geometry: roundGeometry(g) })),
    { type: 'Feature', properties: { kind: 'border' }, geometry: roundGeometry(borders) },
  ],
};
writeFileSync(`${dist}/basemap.json`, JSON.stringify(basemap));

await build({
  entryPoints: [`${here}src/main.js`],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020'],
  outfile: `${dist}/app.js`,
  legalComments: 'none',
  define: {
    __WORKER_URL__: JSON.stringify(`/assets/maplibre-gl-worker.js?v=${version('maplibre-gl-worker.js')}`),
    __BASEMAP_URL__: JSON.stringify(`/assets/basemap.json?v=${version('basemap.json')}`),
  },
  logLevel: 'warning',
});
await build({
  entryPoints: [`${here}src/style.css`],
  bundle: true,
  minify: true,
  outfile: `${dist}/app.css`,
  logLevel: 'warning',
});

// index.html names each asset with its content's hash, so the server may let browsers keep them.
const html = readFileSync(`${here}src/index.html`, 'utf8')
  .replace('/assets/app.css', `/assets/app.css?v=${version('app.css')}`)
  .replace('/assets/app.js', `/assets/app.js?v=${version('app.js')}`);
writeFileSync(`${dist}/index.html`, html);

// Gzipped twins, served to browsers that accept gzip (all do); the server compresses nothing itself.
for (const name of readdirSync(dist)) {
  writeFileSync(`${dist}/${name}.gz`, gzipSync(readFileSync(`${dist}/${name}`), { level: constants.Z_BEST_COMPRESSION }));
}
