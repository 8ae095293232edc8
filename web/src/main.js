// Symbiont's dashboard. Everything it shows comes from the public API (REST under /api/v1 and the
// live feed at /api/v1/ws); it holds no data of its own. See docs/adr/0027 and 0028 (the map's
// layers, clustered and placed on the server).

import { auth, get, me, pages, request, ApiError } from './api.js';
import { createMap, whenLoaded, countLabel, pickLocation, SECTIONS, FAMILIES, SCORE_STOPS, familyColour, sectionOf } from './map.js';
import { startFeed } from './live.js';
import { renderKpis, exportCsv } from './kpis.js';
import { bindForms, refreshFormChoices } from './forms.js';
import { $, el, euros, tonnes, number, percent, statusLabel, debounce } from './dom.js';

/** How many matches the map and the list hold (best first by score, after the filters). */
const MATCH_CAP = 2000;
const WORLD = [-180, -90, 180, 90];
const NEXT_ACTIONS = {
  suggested: [['contacted', 'Contact'], ['rejected', 'Reject']],
  contacted: [['negotiating', 'Negotiate'], ['rejected', 'Reject']],
  negotiating: [['agreed', 'Agree'], ['rejected', 'Reject']],
};

export const state = {
  categories: new Map(),
  businesses: new Map(),
  /** Sites seen on their own (the site layer's lone sites, the user's own sites). */
  sites: new Map(),
  sitesByBusiness: new Map(),
  flowSites: new Map(),
  matches: new Map(),
  /** Each drawn match's two ends, [[lon, lat], [lon, lat]], as GET /map/matches placed them. */
  lines: new Map(),
  region: null,
  stats: null,
  me: null,
  map: null,
  filters: { family: '', min_score: 0, status: '', business_id: '' },
  detail: null,
};
// Figures the browser tests and the first-render measurement read.
window.symbiont = { state, firstRenderMs: null, sitesShown: 0, feed: { events: 0, last: null } };

const familyOf = (code) => state.categories.get(code)?.group || (code || '').split('.')[0];

function memberOf(businessId) {
  return Boolean(businessId && state.me?.memberships?.some((m) => m.business_id === businessId));
}

// ---------------------------------------------------------------- loading

/** The view's box for the site layer, or null when the view holds the whole world. */
function viewBox() {
  const b = state.map?.getBounds();
  if (!b) return null;
  const west = Math.max(-180, b.getWest());
  const east = Math.min(180, b.getEast());
  if (b.getEast() - b.getWest() >= 360) return null;
  return [west, Math.max(-90, b.getSouth()), east, Math.min(90, b.getNorth())].map((v) => v.toFixed(5)).join(',');
}

let siteGeneration = 0;
/** The sites of the view, clustered by the server for the map's zoom level (GET /map/sites). */
async function loadSiteLayer() {
  const generation = ++siteGeneration;
  const q = new URLSearchParams({ zoom: String(Math.max(0, Math.min(22, Math.round(state.map.getZoom())))) });
  const box = viewBox();
  if (box) q.set('bbox', box);
  const layer = await get(`/map/sites?${q}`, { accept: 'application/geo+json' });
  if (generation !== siteGeneration) return;
  state.region = layer.region || state.region;
  for (const f of layer.features) {
    const p = f.properties;
    if (p.cluster) p.label = countLabel(p.count);
    else {
      p.section = sectionOf(p.industry);
      addSite(p.site_id, p.business_id, null, f.geometry.coordinates);
    }
  }
  window.symbiont.sitesShown = layer.sites;
  await whenLoaded(state.map);
  if (generation === siteGeneration) state.map.getSource('sites').setData(layer);
}

function addSite(id, businessId, name, coordinates) {
  const known = state.sites.get(id);
  const site = { id, business_id: businessId, name: name || known?.name || null, coordinates };
  state.sites.set(id, site);
  const list = (state.sitesByBusiness.get(businessId) || []).filter((s) => s.id !== id);
  list.push(site);
  state.sitesByBusiness.set(businessId, list);
}

/** Every business, for the search box and names (after the first render: not needed to draw). */
async function loadBusinesses() {
  const items = await pages('/businesses?limit=1000');
  for (const b of items) state.businesses.set(b.id, b);
  const names = $('#business-names');
  names.replaceChildren(...items.slice(0, 5000).map((b) => el('option', { value: b.name })));
}

/** The businesses of `ids` not yet known, read one by one (a match's two parties, one's own). */
async function ensureBusinesses(ids) {
  await Promise.all(ids.filter((id) => id && !state.businesses.has(id)).map(async (id) => {
    try {
      state.businesses.set(id, await get(`/businesses/${id}`));
    } catch {
      // Removed meanwhile: shown by its id.
    }
  }));
}

/** The signed-in user's businesses and their sites, for the forms. */
async function loadOwnBusinesses() {
  const own = (state.me?.memberships || []).map((m) => m.business_id);
  await ensureBusinesses(own);
  await Promise.all(own.map(async (id) => {
    try {
      for (const s of await pages(`/businesses/${id}/sites?limit=1000`)) addSite(s.id, s.business_id, s.name, [s.location.lon, s.location.lat]);
    } catch {
      // A business removed meanwhile has no sites to offer.
    }
  }));
}

function matchQuery(extra = {}) {
  const q = new URLSearchParams({ limit: String(MATCH_CAP), ...extra });
  const f = state.filters;
  if (f.family) q.set('category', f.family);
  if (f.min_score > 0) q.set('min_score', String(f.min_score));
  if (f.status) q.set('status', f.status);
  if (f.business_id) q.set('business_id', f.business_id);
  return `/map/matches?${q}`;
}

let matchGeneration = 0;
/** The best matches after the filters, as lines with both ends (GET /map/matches). */
async function loadMatches() {
  const generation = ++matchGeneration;
  const lines = await pages(matchQuery(), { maxItems: MATCH_CAP, accept: 'application/geo+json', items: (p) => p.features });
  if (generation !== matchGeneration) return;
  state.matches.clear();
  state.lines.clear();
  for (const f of lines.slice(0, MATCH_CAP)) {
    state.matches.set(f.properties.id, f.properties);
    state.lines.set(f.properties.id, f.geometry.coordinates);
  }
  drawMatches();
  renderMatchList();
}

/** Whether a match (from a list or the feed) passes the filters, as the server would filter it. */
function passesFilters(m) {
  const f = state.filters;
  if (f.family && familyOf(m.offer_category) !== f.family && familyOf(m.need_category) !== f.family) return false;
  if (f.min_score > 0 && !(m.score >= f.min_score)) return false;
  if (f.status ? m.status !== f.status : m.status === 'expired') return false;
  if (f.business_id && m.offer_business_id !== f.business_id && m.need_business_id !== f.business_id) return false;
  return true;
}

/**
 * Lines of matches the feed brought that are not drawn yet: the lines of each one's visible flow,
 * read together shortly after (GET /map/matches?flow_id=…); a match with both sides hidden is
 * placed by reading the list again.
 */
const pendingLineFlows = new Set();
let pendingReload = false;
const fetchPendingLines = debounce(async () => {
  const flows = [...pendingLineFlows];
  pendingLineFlows.clear();
  if (pendingReload) {
    pendingReload = false;
    await loadMatches().catch(showLoadError);
  }
  await Promise.all(flows.map(async (flow) => {
    try {
      const page = await get(`/map/matches?flow_id=${flow}&limit=1000`, { accept: 'application/geo+json' });
      for (const f of page.features) {
        const m = state.matches.get(f.properties.id);
        if (!m) continue;
        state.lines.set(m.id, f.geometry.coordinates);
        m.offer_place = f.properties.offer_place;
        m.need_place = f.properties.need_place;
      }
    } catch {
      // A flow removed meanwhile: its matches go with the next event.
    }
  }));
  drawSoon();
}, 50);

/** A newer view of a match (the feed's, GET /matches/{id}) replaces the list's; where its ends are stays. */
function keepMatch(m) {
  const before = state.matches.get(m.id);
  state.matches.set(m.id, before?.offer_place ? { ...m, offer_place: before.offer_place, need_place: before.need_place } : m);
}

function placeLater(m) {
  const flow = m.offer_flow_id || m.need_flow_id;
  if (flow) pendingLineFlows.add(flow);
  else pendingReload = true;
  fetchPendingLines();
}

// ---------------------------------------------------------------- map layers

function drawMatches() {
  if (!state.map?.getSource('matches')) return;
  const features = [];
  for (const m of state.matches.values()) {
    const ends = state.lines.get(m.id);
    if (!ends) continue;
    const savings = Math.max(1, m.savings_eur_per_year || 1);
    features.push({
      type: 'Feature',
      properties: { id: m.id, score: m.score ?? 0, savings_log: Math.log10(savings), status: m.status },
      geometry: { type: 'LineString', coordinates: ends },
    });
  }
  state.map.getSource('matches').setData({ type: 'FeatureCollection', features });
  window.symbiont.drawnMatches = features.length;
  window.symbiont.drawnIds = new Set(features.map((f) => f.properties.id));
}

const drawSoon = (() => {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      drawMatches();
      renderMatchList();
    });
  };
})();

/** Offers and needs in view, by a viewport query (GET /flows?near=…&radius_km=…). */
const loadViewportFlows = debounce(async () => {
  const map = state.map;
  if (!map || map.getZoom() < 12) {
    map?.getSource('flows').setData({ type: 'FeatureCollection', features: [] });
    return;
  }
  const c = map.getCenter();
  const bounds = map.getBounds();
  const radius = Math.min(50, c.distanceTo(bounds.getNorthEast()) / 1000);
  try {
    const items = await pages(`/flows?near=${c.lat.toFixed(5)},${c.lng.toFixed(5)}&radius_km=${radius.toFixed(2)}&limit=1000`, { maxItems: 3000 });
    const perSite = new Map();
    const features = [];
    for (const f of items) {
      state.flowSites.set(f.id, f.site_id);
      const site = state.sites.get(f.site_id);
      if (!site) continue;
      const n = perSite.get(f.site_id) || 0;
      perSite.set(f.site_id, n + 1);
      const side = f.direction === 'offer' ? -1 : 1;
      features.push({
        type: 'Feature',
        properties: { id: f.id, direction: f.direction, family: FAMILIES[familyOf(f.category)] ? familyOf(f.category) : 'other', offset: [side * (14 + 6 * Math.floor(n / 2)), -14] },
        geometry: { type: 'Point', coordinates: site.coordinates },
      });
    }
    map.getSource('flows').setData({ type: 'FeatureCollection', features });
  } catch {
    // The markers stay as they were; the next move tries again.
  }
}, 250);

/** The view moved or its sites changed: its site layer, then the flows of its lone sites. */
const reloadView = debounce(async () => {
  try {
    await loadSiteLayer();
  } catch {
    // The layer stays as it was; the next move tries again.
  }
  loadViewportFlows();
}, 150);

// ---------------------------------------------------------------- panels

function describeMatch(m) {
  const score = m.score == null ? 'score n/a' : `score ${m.score.toFixed(2)}`;
  const money = m.savings_eur_per_year != null ? euros(m.savings_eur_per_year) : m.savings_band || '';
  const co2 = m.co2_t_per_year != null ? tonnes(m.co2_t_per_year) : m.co2_band || '';
  return { title: `${m.offer_category} → ${m.need_category}`, line: [score, money, co2, statusLabel(m.status)].filter(Boolean).join(' · ') };
}

function renderMatchList() {
  const list = $('#match-list');
  const all = [...state.matches.values()].sort((a, b) => (b.score ?? 0) - (a.score ?? 0) || (a.id < b.id ? -1 : 1));
  $('#match-count').textContent = `${number(all.length)} matches${all.length >= MATCH_CAP ? ` (the best ${number(MATCH_CAP)})` : ''}; ${number(window.symbiont.drawnMatches || 0)} drawn`;
  list.replaceChildren(
    ...all.slice(0, 150).map((m) => {
      const d = describeMatch(m);
      const mine = memberOf(m.offer_business_id) || memberOf(m.need_business_id);
      return el('li', {}, el('button', { type: 'button', class: `match-item status-${m.status}`, 'data-match': m.id, onclick: () => openMatch(m.id) },
        el('span', { class: 'swatch', style: `background:${scoreColour(m.score)}` }),
        el('strong', {}, d.title),
        mine ? el('span', { class: 'badge' }, 'yours') : null,
        el('span', { class: 'muted block' }, d.line)));
    }),
  );
}

function scoreColour(score) {
  if (score == null) return '#9ca3af';
  let colour = SCORE_STOPS[0][1];
  for (const [stop, c] of SCORE_STOPS) if (score >= stop) colour = c;
  return colour;
}

function showDetail(content) {
  for (const id of ['view-explore', 'view-region', 'view-register']) $(`#${id}`).hidden = true;
  $('.tabs').hidden = true;
  $('#detail').hidden = false;
  $('#detail-body').replaceChildren(...content);
  $('#detail-body').querySelector('h2')?.focus();
}

function closeDetail() {
  state.detail = null;
  history.replaceState(null, '', location.pathname);
  $('#detail').hidden = true;
  $('.tabs').hidden = false;
  state.map?.setFilter('match-selected', ['==', ['get', 'id'], '']);
  selectTab(document.querySelector('[role=tab][aria-selected=true]')?.id || 'tab-explore');
}

function businessName(id, anonymous) {
  if (!id) return anonymous ? 'Anonymous business (hidden until contact is accepted)' : 'Unknown business';
  return state.businesses.get(id)?.name || id;
}

function figureRows(rows) {
  return el('dl', { class: 'figures-list' }, ...rows.filter(([, v]) => v != null && v !== '').flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

async function openMatch(id, { quiet = false } = {}) {
  let m;
  try {
    m = await get(`/matches/${id}`);
  } catch (error) {
    showDetail([el('h2', { tabindex: '-1' }, 'Match'), el('p', { class: 'error', role: 'alert' }, error.message)]);
    return;
  }
  state.detail = { kind: 'match', id };
  history.replaceState(null, '', `#match=${id}`);
  keepMatch(m);
  if (!state.lines.has(m.id)) placeLater(m);
  state.map?.setFilter('match-selected', ['==', ['get', 'id'], m.id]);
  await ensureBusinesses([m.offer_business_id, m.need_business_id]);
  const ends = state.lines.get(m.id) || [];
  if (!quiet && ends.length === 2 && state.map) {
    state.map.fitBounds([[Math.min(ends[0][0], ends[1][0]), Math.min(ends[0][1], ends[1][1])], [Math.max(ends[0][0], ends[1][0]), Math.max(ends[0][1], ends[1][1])]], { padding: 80, maxZoom: 13, duration: 0 });
  }
  const c = m.components;
  const party = (businessId, anonymous, label) =>
    businessId ? el('button', { type: 'button', class: 'link', onclick: () => openBusiness(businessId) }, `${label}: ${businessName(businessId)}`) : el('span', {}, `${label}: ${businessName(null, anonymous)}`);
  const content = [
    el('h2', { tabindex: '-1', id: 'match-title' }, `${m.offer_category} → ${m.need_category}`),
    el('p', { class: `status-pill status-${m.status}`, id: 'match-status' }, statusLabel(m.status)),
    el('p', { class: 'explanation' }, m.explanation),
    el('p', {}, party(m.offer_business_id, m.offer_anonymous, 'Supplier')),
    el('p', {}, party(m.need_business_id, m.need_anonymous, 'Consumer')),
    figureRows([
      ['Score', m.score == null ? null : m.score.toFixed(2)],
      ['Distance', m.distance_km != null ? `${m.distance_km.toFixed(1)} km (allowed ${number(m.allowed_distance_km)} km)` : m.distance_band],
      ['Delivered', m.delivered_quantity != null ? `${number(m.delivered_quantity)} ${m.quantity_unit}` : m.quantity_band],
      ['Per year', m.delivered_annual_amount != null ? `${number(m.delivered_annual_amount)} ${m.amount_unit}` : null],
      ['Share of the need covered', m.covered_share != null ? percent(m.covered_share) : null],
      ['Temporal overlap', m.temporal_overlap != null ? percent(m.temporal_overlap) : null],
      ['Savings', m.savings_eur_per_year != null ? `${euros(m.savings_eur_per_year)} a year` : m.savings_band],
      ['CO2 avoided', m.co2_t_per_year != null ? `${tonnes(m.co2_t_per_year)} a year` : m.co2_band],
      ['Hazardous waste', m.hazardous_waste ? JSON.stringify(m.hazardous_waste) : null],
      ['Expired because', m.expired_reason],
      ['Note', m.note],
    ]),
    c ? el('details', {}, el('summary', {}, 'Score components'), figureRows(Object.entries(c).map(([k, v]) => [k, v.toFixed(2)]))) : null,
    m.redacted ? el('p', { class: 'notice' }, `The ${m.redacted.join(' and ')} side is anonymous: its business, place and exact figures stay hidden until its owner accepts contact. The map draws that end at the centre of its 5 km grid cell, where its figures are computed from.`) : null,
    lifecycle(m),
  ];
  showDetail(content.filter(Boolean));
}

function lifecycle(m) {
  const box = el('section', { class: 'lifecycle', 'aria-labelledby': 'lifecycle-h' }, el('h3', { id: 'lifecycle-h' }, 'Lifecycle'));
  const actions = NEXT_ACTIONS[m.status] || [];
  const message = el('p', { class: 'notice', role: 'status', id: 'lifecycle-message' });
  if (!actions.length) {
    message.textContent = `This match is ${m.status}: no further step.`;
    box.append(message);
    return box;
  }
  const party = memberOf(m.offer_business_id) || memberOf(m.need_business_id);
  if (!auth.signedIn) message.textContent = 'Sign in as a member of one of the two businesses to act on this match.';
  else if (!party) message.textContent = 'Only members of the two businesses of this match may change its status; you are neither.';
  const note = el('textarea', { id: 'lifecycle-note', rows: '2', maxlength: '2000', disabled: !party || undefined });
  box.append(el('label', { for: 'lifecycle-note' }, 'Note (optional)'), note);
  const buttons = el('div', { class: 'actions' });
  for (const [status, label] of actions) {
    buttons.append(
      el('button', {
        type: 'button',
        'data-status': status,
        disabled: !party || undefined,
        'aria-describedby': 'lifecycle-message',
        onclick: async (event) => {
          event.target.disabled = true;
          message.textContent = 'Saving…';
          try {
            await request('PATCH', `/matches/${m.id}`, { status, note: note.value || null }, { headers: { 'if-match': `"${m.decision_version}"` } });
            await openMatch(m.id, { quiet: true });
            $('#lifecycle-message').textContent = `Moved to ${status}.`;
          } catch (error) {
            message.textContent = error instanceof ApiError ? `Refused (${error.status}): ${error.message}` : String(error.message || error);
            event.target.disabled = false;
          }
        },
      }, label),
    );
  }
  box.append(buttons, message);
  return box;
}

async function openBusiness(id) {
  let business, sites, flows, matches;
  try {
    [business, sites, flows, matches] = await Promise.all([
      get(`/businesses/${id}`),
      get(`/businesses/${id}/sites?limit=1000`),
      get(`/businesses/${id}/flows?limit=1000`),
      get(`/businesses/${id}/matches?limit=100`),
    ]);
  } catch (error) {
    showDetail([el('h2', { tabindex: '-1' }, 'Business'), el('p', { class: 'error', role: 'alert' }, error.message)]);
    return;
  }
  state.detail = { kind: 'business', id };
  history.replaceState(null, '', `#business=${id}`);
  for (const f of flows.items) state.flowSites.set(f.id, f.site_id);
  const site = sites.items[0];
  if (site && state.map) state.map.easeTo({ center: [site.location.lon, site.location.lat], zoom: Math.max(state.map.getZoom(), 12), duration: 0 });
  showDetail([
    el('h2', { tabindex: '-1' }, business.name),
    el('p', { class: 'muted' }, `Industry ${business.industry}${memberOf(id) ? ' · you are a member' : ''}`),
    business.description ? el('p', {}, business.description) : null,
    el('h3', {}, `Sites (${sites.items.length})`),
    el('ul', {}, ...sites.items.map((s) => el('li', {}, `${s.name}${s.address ? `, ${s.address}` : ''} (${s.location.lat.toFixed(4)}, ${s.location.lon.toFixed(4)})`))),
    el('h3', {}, `Flows (${flows.items.length})`),
    el('ul', {}, ...flows.items.map((f) => el('li', {}, `${f.direction === 'offer' ? 'Offers' : 'Needs'} ${f.category}: ${number(f.quantity.value)} ${f.quantity.unit}${f.quality?.temperature_c != null ? ` at ${f.quality.temperature_c} °C` : ''}${f.anonymous ? ' (anonymous)' : ''}${f.status === 'paused' ? ' (paused)' : ''}`))),
    el('h3', {}, `Matches (${matches.items.length}${matches.next_cursor ? '+' : ''})`),
    el('ul', { class: 'match-list' }, ...matches.items.map((m) => {
      const d = describeMatch(m);
      return el('li', {}, el('button', { type: 'button', class: 'match-item', onclick: () => openMatch(m.id) }, el('strong', {}, d.title), el('span', { class: 'muted block' }, d.line), el('span', { class: 'block' }, m.explanation)));
    })),
  ].filter(Boolean));
}

// ---------------------------------------------------------------- tabs, filters, account

function selectTab(id) {
  for (const tab of document.querySelectorAll('[role=tab]')) {
    const on = tab.id === id;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`#${tab.getAttribute('aria-controls')}`).hidden = !on;
  }
  if (id === 'tab-region') renderKpis(state, familyOf);
}

function bindTabs() {
  const tabs = [...document.querySelectorAll('[role=tab]')];
  for (const tab of tabs) {
    tab.addEventListener('click', () => {
      closeDetailIfOpen();
      selectTab(tab.id);
    });
    tab.addEventListener('keydown', (event) => {
      const i = tabs.indexOf(tab);
      const next = event.key === 'ArrowRight' ? tabs[(i + 1) % tabs.length] : event.key === 'ArrowLeft' ? tabs[(i + tabs.length - 1) % tabs.length] : null;
      if (next) {
        selectTab(next.id);
        next.focus();
      }
    });
  }
}

function closeDetailIfOpen() {
  if (!$('#detail').hidden) {
    state.detail = null;
    $('#detail').hidden = true;
    $('.tabs').hidden = false;
  }
}

function bindFilters() {
  const families = [...new Set([...state.categories.values()].map((c) => c.group))].sort();
  $('#f-family').append(...families.map((f) => el('option', { value: f }, f)));
  const reload = debounce(() => loadMatches().catch(showLoadError), 200);
  $('#filters').addEventListener('submit', (event) => event.preventDefault());
  $('#f-family').addEventListener('change', (e) => { state.filters.family = e.target.value; reload(); });
  $('#f-status').addEventListener('change', (e) => { state.filters.status = e.target.value; reload(); });
  $('#f-score').addEventListener('input', (e) => {
    state.filters.min_score = Number(e.target.value);
    $('#f-score-out').textContent = state.filters.min_score.toFixed(2);
    reload();
  });
  $('#f-search').addEventListener('change', (e) => {
    const text = e.target.value.trim().toLowerCase();
    const found = text ? [...state.businesses.values()].find((b) => b.name.toLowerCase() === text) || [...state.businesses.values()].find((b) => b.name.toLowerCase().includes(text)) : null;
    state.filters.business_id = found?.id || '';
    reload();
    if (found) openBusiness(found.id);
  });
}

async function refreshAccount() {
  state.me = await me();
  await loadOwnBusinesses();
  const signedIn = Boolean(state.me);
  $('#signin').hidden = signedIn;
  $('#signedin').hidden = !signedIn;
  $('#whoami').textContent = signedIn ? `${state.me.email}${state.me.is_admin ? ' (admin)' : ''}` : '';
  $('#register-hint').hidden = signedIn;
  for (const form of document.querySelectorAll('.entity-form')) form.hidden = !signedIn;
  refreshFormChoices(state);
  renderMatchList();
  if (state.detail?.kind === 'match') openMatch(state.detail.id, { quiet: true });
}

function bindAccount() {
  $('#signin').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('#signin-error').textContent = '';
    try {
      await auth.signIn($('#signin-email').value, $('#signin-password').value);
      $('#signin-password').value = '';
    } catch (error) {
      $('#signin-error').textContent = error.status === 401 ? 'E-mail or password is wrong.' : error.message;
    }
  });
  $('#signout').addEventListener('click', () => auth.signOut());
  let last = auth.signedIn;
  auth.onChange(() => {
    if (auth.signedIn === last && auth.signedIn) return; // a refreshed token: same person
    last = auth.signedIn;
    refreshAccount();
    feed?.restart();
  });
}

function showLoadError(error) {
  $('#match-count').textContent = `Could not load: ${error.message}`;
}

function legend() {
  const items = [
    el('h2', {}, 'Legend'),
    el('p', {}, 'Match lines: colour by score, width by savings'),
    el('ul', {}, ...SCORE_STOPS.map(([s, c]) => el('li', {}, el('span', { class: 'swatch', style: `background:${c}` }), `score ≥ ${s}`))),
    el('p', {}, 'Sites by industry'),
    el('ul', { class: 'columns' }, ...Object.entries(SECTIONS).map(([k, [c, name]]) => el('li', {}, el('span', { class: 'swatch square', style: `background:${c}` }), `${k === 'other' ? '' : `${k} `}${name}`))),
    el('p', {}, '▲ offer  ▽ need (zoom in), coloured by family'),
  ];
  const details = el('details', {}, el('summary', {}, 'Legend'), ...items.slice(1));
  $('#legend').replaceChildren(details);
}

// ---------------------------------------------------------------- live feed

let feed = null;

function onFeedEvent(message) {
  window.symbiont.feed.events += 1;
  window.symbiont.feed.last = message.type;
  const data = message.data || {};
  if (message.type.startsWith('match.')) {
    if (message.type === 'match.withdrawn' || !passesFilters(data)) {
      state.matches.delete(data.id);
      state.lines.delete(data.id);
    } else {
      keepMatch(data);
      if (!state.lines.has(data.id)) placeLater(data);
    }
    drawSoon();
    if (state.detail?.kind === 'match' && state.detail.id === data.id) openMatch(data.id, { quiet: true });
    refreshStats();
  } else if (message.type.startsWith('flow.')) {
    if (data.site_id) state.flowSites.set(data.id, data.site_id);
    // A flow may bring a new site: the view's layer is read again.
    if (data.site_id && !state.sites.has(data.site_id)) reloadView();
    else loadViewportFlows();
    refreshStats();
  }
}

const refreshStats = debounce(async () => {
  try {
    state.stats = await get('/stats');
    if (!$('#view-region').hidden) renderKpis(state, familyOf, { flowsAgain: true });
  } catch {
    // The figures stay; the next event tries again.
  }
}, 800);

// ---------------------------------------------------------------- start

async function main() {
  bindTabs();
  bindAccount();
  legend();
  // From the start: where the region is (the site layer's `region`), then the map framed on it
  // (its camera is set at once, so the view's sites load while its style, basemap and worker do),
  // and the best match lines.
  performance.mark('main');
  const mapCreated = get('/map/sites?zoom=0', { accept: 'application/geo+json' }).then((framing) => {
    state.region = framing.region;
    performance.mark('region');
    state.map = createMap($('#map'), state.region ? { bounds: state.region } : { center: [7.0, 51.42], zoom: 9 });
    return state.map;
  });
  const sitesLoaded = mapCreated.then(() => loadSiteLayer());
  const matchesLoaded = loadMatches();
  const [categories, stats] = await Promise.all([get('/categories'), get('/stats'), (async () => { state.me = await me(); })()]);
  for (const c of categories.items) state.categories.set(c.code, c);
  state.stats = stats;
  bindFilters();
  bindForms(state, { onCreated: onEntityCreated, familyOf });
  $('#export-csv').addEventListener('click', () => exportCsv(state));
  $('#export-pdf').addEventListener('click', () => {
    selectTab('tab-region');
    window.print();
  });
  $('#detail-back').addEventListener('click', closeDetail);
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !$('#detail').hidden) closeDetail(); });

  const map = await mapCreated;
  await whenLoaded(map);
  performance.mark('map');
  await sitesLoaded;
  performance.mark('sites');
  await matchesLoaded;
  performance.mark('matches');
  drawMatches();
  renderMatchList();
  map.once('idle', () => {
    // Milliseconds since the navigation started: the page, the bundle, the data and the drawing.
    window.symbiont.firstRenderMs = Math.round(performance.now());
    window.symbiont.marks = Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, Math.round(m.startTime)]));
    document.body.dataset.ready = 'true';
    console.info(`first render in ${window.symbiont.firstRenderMs} ms`);
    // Names for the search box and the lists: not needed to draw the map.
    loadBusinesses().then(() => { renderMatchList(); refreshFormChoices(state); }).catch(showLoadError);
  });
  await refreshAccount();
  bindMap(map);
  window.addEventListener('hashchange', openFromHash);
  openFromHash();
  feed = startFeed({ bbox: WORLD, onEvent: onFeedEvent, onStatus: (text) => { $('#live').textContent = text; }, onResync: () => loadMatches().catch(showLoadError) });
}

/** `#match=<id>` and `#business=<id>` open that page (links to share, the back button). */
function openFromHash() {
  const [kind, id] = location.hash.slice(1).split('=');
  if (!id) return;
  if (kind === 'match' && state.detail?.id !== id) openMatch(id);
  else if (kind === 'business' && state.detail?.id !== id) openBusiness(id);
}

function bindMap(map) {
  map.on('click', 'clusters', async (e) => {
    const feature = e.features[0];
    map.easeTo({ center: feature.geometry.coordinates, zoom: Math.max(map.getZoom() + 1, feature.properties.expansion_zoom) });
  });
  map.on('click', 'sites', (e) => {
    if (registeringSite()) return;
    openBusiness(e.features[0].properties.business_id);
  });
  map.on('click', 'matches', (e) => {
    if (registeringSite()) return;
    openMatch(e.features[0].properties.id, { quiet: true });
  });
  map.on('click', (e) => {
    if (!registeringSite()) return;
    $('#s-lat').value = e.lngLat.lat.toFixed(6);
    $('#s-lon').value = e.lngLat.lng.toFixed(6);
    pickLocation(map, e.lngLat);
  });
  for (const layer of ['clusters', 'sites', 'matches']) {
    map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
  }
  map.on('moveend', reloadView);
  loadViewportFlows();
}

const registeringSite = () => !$('#view-register').hidden && !$('#form-site').hidden;

async function onEntityCreated(kind, entity) {
  if (kind === 'business') {
    state.businesses.set(entity.id, entity);
    await refreshAccount();
  } else if (kind === 'site') {
    addSite(entity.id, entity.business_id, entity.name, [entity.location.lon, entity.location.lat]);
    reloadView();
    pickLocation(state.map, null);
    refreshFormChoices(state);
  } else if (kind === 'flow') {
    state.flowSites.set(entity.id, entity.site_id);
    loadViewportFlows();
  }
}

main().catch((error) => {
  document.body.dataset.ready = 'error';
  $('#match-count').textContent = `The dashboard could not start: ${error.message}`;
  console.error(error);
});

export { familyColour };
