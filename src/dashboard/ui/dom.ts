/** Small DOM helpers for the dashboard (no framework: the page stays within its size budget). */
export { bytes, fmt, millis, round2, when } from "./format";

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>;

/** `h("p", { class: "note" }, "text", child)`: an element with attributes, listeners (`on…`) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "number" ? String(child) : child);
  }
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A figure: a label and a big number, both readable by tests (`data-figure`). */
export function figure(key: string, label: string): { el: HTMLElement; set(text: string): void } {
  const value = h("dd", { "data-figure": key }, "–");
  const el = h("div", { class: "figure" }, h("dt", {}, label), value);
  return { el, set: (text) => (value.textContent = text) };
}

/**
 * A data table with a caption, inside a focusable region that scrolls sideways on narrow screens.
 * `update` replaces the rows in place: the region (and a keyboard user's focus on it) stays put
 * across refreshes.
 */
export function tableView(key: string, headers: string[], numeric: boolean[] = []): { el: HTMLElement; update(caption: string, rows: Array<Array<string | number>>): void } {
  const caption = h("caption");
  const body = h("tbody");
  const el = scroller("", h(
    "table",
    { "data-table": key },
    caption,
    h("thead", {}, h("tr", {}, ...headers.map((name, i) => h("th", { scope: "col", class: numeric[i] ? "num" : null }, name)))),
    body,
  ));
  return {
    el,
    update(text, rows) {
      caption.textContent = text;
      el.setAttribute("aria-label", text);
      fill(body, ...rows.map((cells) => h("tr", {}, ...cells.map((cell, i) => (i === 0 ? h("th", { scope: "row" }, cell) : h("td", { class: numeric[i] ? "num" : null }, cell))))));
    },
  };
}

/** A data table built once (see `tableView`). */
export function table(key: string, caption: string, headers: string[], rows: Array<Array<string | number>>, numeric: boolean[] = []): HTMLElement {
  const view = tableView(key, headers, numeric);
  view.update(caption, rows);
  return view.el;
}

/** A keyboard-scrollable region around a wide element. */
export function scroller(label: string, child: HTMLElement): HTMLElement {
  return h("div", { class: "table-scroll", role: "region", "aria-label": label, tabindex: 0 }, child);
}

/** A labelled form control. */
export function field(label: string, control: HTMLElement): HTMLElement {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

/** `<select>` with options [value, text]. */
export function select(options: Array<[string, string]>, value: string, name: string): HTMLSelectElement {
  const el = h("select", { name });
  for (const [v, text] of options) el.append(h("option", { value: v, selected: v === value }, text));
  return el;
}
