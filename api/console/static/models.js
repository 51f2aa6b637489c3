// The grade bands and labels the ledger grades with, as GET /v1/models serves them once per
// sign-in: the console restates none of them, so a new model version redraws it unchanged.

import { api } from "./api.js";

let served = null;

/** Ask the API for the models (on sign-in, before anything graded is drawn). */
export async function loadModels(token) {
  served = await api("/v1/models", { token });
  return served;
}

/** Forget them on sign-out. */
export function forgetModels() {
  served = null;
}

function versions() {
  if (!served) throw new Error("the evaluation models are not loaded yet");
  return served.models;
}

/** A model version by its code (an evaluation's `model`), else the latest one. */
export function model(version) {
  const all = versions();
  return all.find((m) => m.version === version) || all[all.length - 1];
}

/** The grade labels of a version, best first. */
export function gradeLabels(version) {
  return model(version).bands.map((b) => b.label);
}

function band(label) {
  for (const m of served ? served.models : []) {
    const found = m.bands.find((b) => b.label === label);
    if (found) return found;
  }
  return null;
}

/** The English code of a grade label ("" for none). */
export function gradeCode(label) {
  return band(label)?.code || "";
}

/** The CSS class that colours a grade label (the style is keyed by the English code). */
export function gradeClass(label) {
  const code = gradeCode(label);
  return code ? `g-${code}` : null;
}

/** The label of the grade a listing on an override list gives outright. */
export function overrideLabel(version) {
  const m = model(version);
  return m.bands.find((b) => b.code === m.override_code)?.label || m.override_code;
}

/**
 * The bands of a version as value ranges, best first: {label, code, from, to, above}; a value
 * is in a band when it is above `from` (strictly, as the model says), the last band holds the
 * rest down to the floor. Also the model's floor and ceiling.
 */
export function bands(version) {
  const m = model(version);
  const floor = Number(m.floor);
  const ceiling = Number(m.ceiling);
  return {
    floor,
    ceiling,
    bands: m.bands.map((b, i) => ({
      label: b.label,
      code: b.code,
      above: b.above === null ? null : Number(b.above),
      from: b.above === null ? floor : Number(b.above),
      to: i === 0 ? ceiling : Number(m.bands[i - 1].above),
    })),
  };
}
