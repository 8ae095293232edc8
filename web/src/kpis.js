// Region KPIs from GET /api/v1/stats (totals the server aggregates), the loaded matches (top
// categories) and the flows read page by page (the chart); the ESG summary as CSV, and as PDF
// through the browser's print dialogue with the print stylesheet.

import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { get } from './api.js';
import { $, el, euros, number, tonnes, statusLabel } from './dom.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

/** Flows read for the chart at most (pages of 1,000); the note says when the region has more. */
const FLOW_CAP = 20000;
let chart = null;
let flowCounts = null;
let counting = null;

function topCategories(state) {
  const byCategory = new Map();
  for (const m of state.matches.values()) {
    for (const code of new Set([m.offer_category, m.need_category])) {
      const row = byCategory.get(code) || { code, matches: 0, eur: 0, co2: 0 };
      row.matches += 1;
      row.eur += m.savings_eur_per_year || 0;
      row.co2 += m.co2_t_per_year || 0;
      byCategory.set(code, row);
    }
  }
  return [...byCategory.values()].sort((a, b) => b.eur - a.eur).slice(0, 8);
}

async function countFlows(familyOf) {
  const counts = new Map();
  let read = 0;
  let cursor = null;
  do {
    const page = await get(`/flows?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    for (const f of page.items) {
      const family = familyOf(f.category);
      const row = counts.get(family) || { offers: 0, needs: 0 };
      if (f.direction === 'offer') row.offers += 1;
      else row.needs += 1;
      counts.set(family, row);
    }
    read += page.items.length;
    cursor = page.next_cursor;
  } while (cursor && read < FLOW_CAP);
  return { counts, read, complete: !cursor };
}

export function kpiRows(state) {
  const s = state.stats;
  if (!s) return [];
  return [
    ['Businesses', number(s.businesses)],
    ['Sites', number(s.sites)],
    ['Offers', number(s.flows.offers)],
    ['Needs', number(s.flows.needs)],
    ['Live matches', number(s.matches.live)],
    ['Potential savings', `${euros(s.matches.potential.savings_eur_per_year)} a year`],
    ['Potential CO2 avoided', `${tonnes(s.matches.potential.co2_t_per_year)} a year`],
    ['Agreed savings', `${euros(s.matches.agreed.savings_eur_per_year)} a year`],
    ['Agreed CO2 avoided', `${tonnes(s.matches.agreed.co2_t_per_year)} a year`],
  ];
}

export async function renderKpis(state, familyOf, { flowsAgain = false } = {}) {
  const s = state.stats;
  if (!s) return;
  $('#kpis').replaceChildren(...kpiRows(state).flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  $('#by-status tbody').replaceChildren(
    ...Object.entries(s.matches.by_status).map(([k, v]) => el('tr', {}, el('th', { scope: 'row' }, statusLabel(k)), el('td', {}, number(v)))),
  );
  $('#top-categories tbody').replaceChildren(
    ...topCategories(state).map((r) => el('tr', {}, el('th', { scope: 'row' }, r.code), el('td', {}, number(r.matches)), el('td', {}, euros(r.eur)), el('td', {}, tonnes(r.co2)))),
  );
  if (flowsAgain) flowCounts = null;
  if (!flowCounts) {
    $('#flows-chart-note').textContent = 'Counting flows…';
    counting ||= countFlows(familyOf).finally(() => { counting = null; });
    try {
      flowCounts = await counting;
    } catch (error) {
      $('#flows-chart-note').textContent = `Could not count flows: ${error.message}`;
      return;
    }
  }
  drawChart(flowCounts);
}

function drawChart({ counts, read, complete }) {
  const families = [...counts.keys()].sort();
  $('#flows-chart-note').textContent = complete ? `All ${number(read)} flows you may see.` : `The first ${number(read)} flows you may see.`;
  $('#flows-table tbody').replaceChildren(
    ...families.map((f) => el('tr', {}, el('th', { scope: 'row' }, f), el('td', {}, number(counts.get(f).offers)), el('td', {}, number(counts.get(f).needs)))),
  );
  const data = {
    labels: families,
    datasets: [
      { label: 'Offers', data: families.map((f) => counts.get(f).offers), backgroundColor: '#1d4ed8' },
      { label: 'Needs', data: families.map((f) => counts.get(f).needs), backgroundColor: '#c2410c' },
    ],
  };
  if (chart) {
    chart.data = data;
    chart.update();
    return;
  }
  chart = new Chart($('#flows-chart'), {
    type: 'bar',
    data,
    options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: 'bottom' } } },
  });
}

const csvCell = (value) => {
  const text = String(value ?? '');
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

/** The ESG summary as CSV: region totals, matches by status, top categories, flows by family. */
export function exportCsv(state) {
  const s = state.stats;
  if (!s) return;
  const rows = [['section', 'item', 'value', 'unit']];
  rows.push(['region', 'businesses', s.businesses, ''], ['region', 'sites', s.sites, ''], ['region', 'offers', s.flows.offers, ''], ['region', 'needs', s.flows.needs, '']);
  rows.push(['region', 'live matches', s.matches.live, '']);
  for (const [kind, totals] of [['potential', s.matches.potential], ['agreed', s.matches.agreed]]) {
    rows.push([kind, 'matches', totals.matches, ''], [kind, 'savings', totals.savings_eur_per_year.toFixed(0), 'EUR/year'], [kind, 'CO2 avoided', totals.co2_t_per_year.toFixed(1), 't CO2/year']);
  }
  for (const [status, count] of Object.entries(s.matches.by_status)) rows.push(['matches by status', status, count, '']);
  for (const r of topCategories(state)) {
    rows.push(['top categories', r.code, r.eur.toFixed(0), 'EUR/year'], ['top categories', r.code, r.co2.toFixed(1), 't CO2/year']);
  }
  if (flowCounts) {
    for (const [family, c] of flowCounts.counts) rows.push(['flows by family', `${family} offers`, c.offers, ''], ['flows by family', `${family} needs`, c.needs, '']);
  }
  const text = rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const link = el('a', { href: url, download: 'symbiont-esg-summary.csv' });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
