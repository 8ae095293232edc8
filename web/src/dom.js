// Small DOM and formatting helpers.

export const $ = (selector) => document.querySelector(selector);

/** An element with attributes (`on…` functions become listeners; false/undefined are left out). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const numberFormat = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 1 });
const compact = new Intl.NumberFormat('en-GB', { notation: 'compact', maximumFractionDigits: 1 });

export const number = (value) => (value == null || Number.isNaN(value) ? '–' : numberFormat.format(value));
export const euros = (value) => (value == null ? '–' : `€${compact.format(value)}`);
export const tonnes = (value) => (value == null ? '–' : `${compact.format(value)} t CO2`);
export const percent = (value) => (value == null ? '–' : `${Math.round(value * 100)} %`);
export const statusLabel = (status) => (status ? status.charAt(0).toUpperCase() + status.slice(1) : '');

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
