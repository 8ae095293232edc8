// Registering a business, a site (its location clicked on the map) and a flow. Each form checks
// what the API would refuse before sending, then shows the API's problem+json field errors next
// to the fields they name (`quantity.unit` → the unit's field).

import { request, ApiError } from './api.js';
import { $, el } from './dom.js';

const FORMS = {
  business: { form: '#form-business', prefix: 'b' },
  site: { form: '#form-site', prefix: 's' },
  flow: { form: '#form-flow', prefix: 'fl' },
};

function clearErrors(form) {
  for (const p of form.querySelectorAll('.field-error')) p.textContent = '';
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  form.querySelector('.form-status').textContent = '';
}

/** Puts each error next to the field it names, or the nearest enclosing one; the rest in the status. */
function showErrors(form, prefix, errors, detail) {
  const rest = [];
  let first = null;
  for (const [field, message] of Object.entries(errors)) {
    let path = field;
    let target = null;
    while (path && !(target = form.querySelector(`[id="${prefix}-${path}-error"]`))) {
      path = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '';
    }
    if (!target) {
      rest.push(`${field}: ${message}`);
      continue;
    }
    target.textContent = target.textContent ? `${target.textContent}; ${message}` : message;
    const input = form.querySelector(`[name="${field}"]`) || form.querySelector(`[name^="${path}"]`);
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', target.id);
      first ||= input;
    }
  }
  form.querySelector('.form-status').textContent = [detail, ...rest].filter(Boolean).join(' ');
  first?.focus();
}

const text = (form, name) => form.querySelector(`[name="${name}"]`).value.trim();
const numberOrNull = (value) => (value === '' ? null : Number(value));

function businessBody(form, errors) {
  const body = { name: text(form, 'name'), industry: text(form, 'industry') };
  if (!body.name) errors.name = 'a name is required';
  if (!/^[A-U]?\d{2}(\.\d{1,2})?$/i.test(body.industry)) errors.industry = 'a NACE Rev.2 code such as C11.05 or 35.30';
  const email = text(form, 'contact.email');
  if (email) body.contact = { email };
  const description = text(form, 'description');
  if (description) body.description = description;
  return { path: '/businesses', body };
}

function siteBody(form, errors) {
  const businessId = text(form, 'business_id');
  const body = { name: text(form, 'name'), address: text(form, 'address') };
  const lat = numberOrNull(text(form, 'location.lat'));
  const lon = numberOrNull(text(form, 'location.lon'));
  if (!businessId) errors.business_id = 'choose one of your businesses';
  if (!body.name) errors.name = 'a name is required';
  if (lat === null || lon === null || Number.isNaN(lat) || Number.isNaN(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
    errors.location = 'click on the map, or give a latitude in -90..90 and a longitude in -180..180';
  }
  body.location = { lat, lon };
  return { path: `/businesses/${businessId}/sites`, body };
}

function flowBody(form, errors) {
  const body = {
    site_id: text(form, 'site_id'),
    direction: text(form, 'direction'),
    category: text(form, 'category'),
    quantity: { value: numberOrNull(text(form, 'quantity.value')), unit: text(form, 'quantity.unit') },
  };
  if (!body.site_id) errors.site_id = 'choose a site of one of your businesses';
  if (!(body.quantity.value > 0)) errors['quantity.value'] = 'a number greater than 0';
  if (!body.quantity.unit) errors['quantity.unit'] = 'a unit such as MW, t/day or m3/h';
  const temperature = text(form, 'quality.temperature_c');
  if (temperature !== '') {
    const t = Number(temperature);
    if (Number.isNaN(t) || t < -273.15 || t > 2000) errors['quality.temperature_c'] = 'degrees Celsius, -273.15..2000';
    body.quality = { temperature_c: t };
  }
  const schedule = text(form, 'profile');
  if (schedule) body.profile = schedule;
  if (form.querySelector('[name="anonymous"]').checked) body.anonymous = true;
  return { path: '/flows', body };
}

const BODIES = { business: businessBody, site: siteBody, flow: flowBody };

export function bindForms(state, { onCreated }) {
  for (const [kind, { form: selector, prefix }] of Object.entries(FORMS)) {
    const form = $(selector);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      const errors = {};
      const { path, body } = BODIES[kind](form, errors);
      if (Object.keys(errors).length) {
        showErrors(form, prefix, errors, 'Please correct the fields marked.');
        return;
      }
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        const created = await request('POST', path, body);
        form.querySelector('.form-status').textContent = `Created ${kind} ${created.name || created.category || ''} (${created.id}).`;
        await onCreated(kind, created);
      } catch (error) {
        if (error instanceof ApiError) showErrors(form, prefix, error.fields, `${error.problem.title || 'Refused'}: ${error.message}`);
        else form.querySelector('.form-status').textContent = String(error.message || error);
      } finally {
        button.disabled = false;
      }
    });
  }
  const categories = [...state.categories.values()].sort((a, b) => a.code.localeCompare(b.code));
  $('#fl-category').replaceChildren(...categories.map((c) => el('option', { value: c.code }, `${c.code}: ${c.name}`)));
}

/** The businesses and sites the signed-in user may write, in the forms' choices. */
export function refreshFormChoices(state) {
  const mine = (state.me?.memberships || []).map((m) => m.business_id);
  const name = (id) => state.businesses.get(id)?.name || id;
  const keep = (select, options) => {
    const value = select.value;
    select.replaceChildren(...options);
    if ([...select.options].some((o) => o.value === value)) select.value = value;
  };
  keep($('#s-business'), mine.map((id) => el('option', { value: id }, name(id))));
  const sites = mine.flatMap((id) => (state.sitesByBusiness.get(id) || []).map((s) => el('option', { value: s.id }, `${s.name} (${name(id)})`)));
  keep($('#fl-site'), sites);
}
