// HomeIQ suggestions card: each new suggestion with its description, confidence, category and
// automation YAML, and Accept / Dismiss buttons, and which models the last analysis used. Plain
// custom element: no build step, served by the integration itself.
const CARD_VERSION = "0.4.2";
const CARD_TAG = "homeiq-suggestions-card";
// HomeIQ's sensors are found by their translation keys in HA's entity registry, as their ids
// differ: HA makes ids from the names in the home's language (German: sensor.homeiq_neue_...),
// and users rename them. The English ids are the fallback.
// A new analysis changes this sensor, and the card reloads the suggestions; its `models`
// attribute says which models ran (or which fallback), shown at the bottom of the card.
const LAST_ANALYSIS_KEY = "last_analysis";
const LAST_ANALYSIS_ENTITY = "sensor.homeiq_last_analysis";
// A decision made anywhere (this card, the to-do card, an action) changes this sensor's
// `suggestion_ids`.
const NEW_SUGGESTIONS_KEY = "new_suggestions";
const NEW_SUGGESTIONS_ENTITY = "sensor.homeiq_new_suggestions";

// The card's own words, per language (HA's frontend does not load an integration's strings for
// custom cards). Add a language by adding a table; anything missing falls back to English.
const STRINGS = {
  en: {
    title: "HomeIQ suggestions",
    loading: "Loading…",
    empty: "No new suggestions.",
    not_set_up: "HomeIQ is not set up.",
    admin_only: "Only administrators can accept or dismiss suggestions.",
    accept: "Accept",
    dismiss: "Dismiss",
    confidence: "confidence {value}",
    priority: "priority {value}",
    uncategorised: "uncategorised",
    models: "Models: {value}",
    action_failed: "{action} failed: {error}",
    bad_max: "max must be a whole number from 1 to 50",
    bad_option: "{option} must be text",
    category_energy: "energy",
    category_comfort: "comfort",
    category_security: "security",
    category_convenience: "convenience",
    category_maintenance: "maintenance",
    priority_high: "high",
    priority_medium: "medium",
    priority_low: "low",
  },
  // The dashboard editor's config errors (bad_max, bad_option) come before HA tells the card
  // its language: English only.
  de: {
    title: "HomeIQ-Vorschläge",
    loading: "Wird geladen…",
    empty: "Keine neuen Vorschläge.",
    not_set_up: "HomeIQ ist nicht eingerichtet.",
    admin_only: "Nur Administratoren können Vorschläge übernehmen oder verwerfen.",
    accept: "Übernehmen",
    dismiss: "Verwerfen",
    confidence: "Konfidenz {value}",
    priority: "Priorität {value}",
    uncategorised: "ohne Kategorie",
    models: "Modelle: {value}",
    action_failed: "{action} fehlgeschlagen: {error}",
    category_energy: "Energie",
    category_comfort: "Komfort",
    category_security: "Sicherheit",
    category_convenience: "Bequemlichkeit",
    category_maintenance: "Wartung",
    priority_high: "hoch",
    priority_medium: "mittel",
    priority_low: "niedrig",
  },
  nl: {
    title: "HomeIQ-suggesties",
    loading: "Laden…",
    empty: "Geen nieuwe suggesties.",
    not_set_up: "HomeIQ is niet ingesteld.",
    admin_only: "Alleen beheerders kunnen suggesties accepteren of afwijzen.",
    accept: "Accepteren",
    dismiss: "Afwijzen",
    confidence: "betrouwbaarheid {value}",
    priority: "prioriteit {value}",
    uncategorised: "geen categorie",
    models: "Modellen: {value}",
    action_failed: "{action} mislukt: {error}",
    category_energy: "energie",
    category_comfort: "comfort",
    category_security: "beveiliging",
    category_convenience: "gemak",
    category_maintenance: "onderhoud",
    priority_high: "hoog",
    priority_medium: "gemiddeld",
    priority_low: "laag",
  },
  fr: {
    title: "Suggestions HomeIQ",
    loading: "Chargement…",
    empty: "Aucune nouvelle suggestion.",
    not_set_up: "HomeIQ n'est pas configuré.",
    admin_only: "Seuls les administrateurs peuvent accepter ou rejeter des suggestions.",
    accept: "Accepter",
    dismiss: "Rejeter",
    confidence: "confiance {value}",
    priority: "priorité {value}",
    uncategorised: "sans catégorie",
    models: "Modèles : {value}",
    action_failed: "Échec de « {action} » : {error}",
    category_energy: "énergie",
    category_comfort: "confort",
    category_security: "sécurité",
    category_convenience: "commodité",
    category_maintenance: "maintenance",
    priority_high: "haute",
    priority_medium: "moyenne",
    priority_low: "basse",
  },
  es: {
    title: "Sugerencias de HomeIQ",
    loading: "Cargando…",
    empty: "No hay sugerencias nuevas.",
    not_set_up: "HomeIQ no está configurado.",
    admin_only: "Solo los administradores pueden aceptar o descartar sugerencias.",
    accept: "Aceptar",
    dismiss: "Descartar",
    confidence: "confianza {value}",
    priority: "prioridad {value}",
    uncategorised: "sin categoría",
    models: "Modelos: {value}",
    action_failed: "{action}: error: {error}",
    category_energy: "energía",
    category_comfort: "confort",
    category_security: "seguridad",
    category_convenience: "comodidad",
    category_maintenance: "mantenimiento",
    priority_high: "alta",
    priority_medium: "media",
    priority_low: "baja",
  },
};

// How each language says a habit, from the pattern's structure (`habit` in get_suggestions: the
// miner's description is English, and English shows it as it is). Each sentence puts the changes
// after a colon or semicolon, so every change is a main clause whatever the language's word order.
// A language without a table shows the English description.
const PHRASES = {
  de: {
    on: "{name} geht an",
    off: "{name} geht aus",
    activated: "{name} wird aktiviert",
    pressed: "{name} wird gedrückt",
    triggered: "{name} löst aus",
    other: "{name} wechselt zu „{state}“",
    clock: "Gegen {time}",
    at_sunrise: "Bei Sonnenaufgang",
    at_sunset: "Bei Sonnenuntergang",
    after_sun: "Etwa {min} min nach {event}",
    before_sun: "Etwa {min} min vor {event}",
    sunrise: "Sonnenaufgang",
    sunset: "Sonnenuntergang",
    every_day: "jeden Tag",
    weekdays: "werktags",
    weekends: "am Wochenende",
    on_days: "am {days}",
    time_of_day: "{when}, {days}: {change} (an {days_seen} Tagen){together}.",
    right_after: "sofort danach",
    after: "etwa {duration} später",
    trigger_action: "{first}; {after}: {then} ({occurrences}-mal an {days_seen} Tagen){together}.",
    within_second: "alles innerhalb einer Sekunde",
    first_to_last: "etwa {duration} vom ersten bis zum letzten",
    sequence: "{first}; dann: {second}; dann: {third} ({spread}; {occurrences}-mal an {days_seen} Tagen).",
    same_command: "; im selben Befehl: {changes}",
    same_moment: "; im selben Moment: {changes}",
  },
  nl: {
    on: "{name} gaat aan",
    off: "{name} gaat uit",
    activated: "{name} wordt geactiveerd",
    pressed: "{name} wordt ingedrukt",
    triggered: "{name} gaat af",
    other: "{name} wordt „{state}”",
    clock: "Rond {time}",
    at_sunrise: "Bij zonsopgang",
    at_sunset: "Bij zonsondergang",
    after_sun: "Ongeveer {min} min na {event}",
    before_sun: "Ongeveer {min} min voor {event}",
    sunrise: "zonsopgang",
    sunset: "zonsondergang",
    every_day: "elke dag",
    weekdays: "op werkdagen",
    weekends: "in het weekend",
    on_days: "op {days}",
    time_of_day: "{when}, {days}: {change} (op {days_seen} dagen){together}.",
    right_after: "direct daarna",
    after: "ongeveer {duration} later",
    trigger_action: "{first}; {after}: {then} ({occurrences} keer op {days_seen} dagen){together}.",
    within_second: "alles binnen een seconde",
    first_to_last: "ongeveer {duration} van eerste tot laatste",
    sequence: "{first}; dan: {second}; dan: {third} ({spread}; {occurrences} keer op {days_seen} dagen).",
    same_command: "; in hetzelfde commando: {changes}",
    same_moment: "; op hetzelfde moment: {changes}",
  },
  fr: {
    on: "{name} s'allume",
    off: "{name} s'éteint",
    activated: "{name} est activé",
    pressed: "{name} est pressé",
    triggered: "{name} se déclenche",
    other: "{name} passe à « {state} »",
    clock: "Vers {time}",
    at_sunrise: "Au lever du soleil",
    at_sunset: "Au coucher du soleil",
    after_sun: "Environ {min} min après {event}",
    before_sun: "Environ {min} min avant {event}",
    sunrise: "le lever du soleil",
    sunset: "le coucher du soleil",
    every_day: "tous les jours",
    weekdays: "en semaine",
    weekends: "le week-end",
    on_days: "le {days}",
    time_of_day: "{when}, {days} : {change} (sur {days_seen} jours){together}.",
    right_after: "aussitôt après",
    after: "environ {duration} plus tard",
    trigger_action: "{first} ; {after} : {then} ({occurrences} fois sur {days_seen} jours){together}.",
    within_second: "le tout en moins d'une seconde",
    first_to_last: "environ {duration} du premier au dernier",
    sequence: "{first} ; puis : {second} ; puis : {third} ({spread} ; {occurrences} fois sur {days_seen} jours).",
    same_command: " ; dans la même commande : {changes}",
    same_moment: " ; au même moment : {changes}",
  },
  es: {
    on: "{name} se enciende",
    off: "{name} se apaga",
    activated: "{name} se activa",
    pressed: "{name} se pulsa",
    triggered: "{name} se dispara",
    other: "{name} pasa a «{state}»",
    clock: "Hacia las {time}",
    at_sunrise: "Al amanecer",
    at_sunset: "Al atardecer",
    after_sun: "Unos {min} min después de {event}",
    before_sun: "Unos {min} min antes de {event}",
    sunrise: "la salida del sol",
    sunset: "la puesta de sol",
    every_day: "todos los días",
    weekdays: "entre semana",
    weekends: "los fines de semana",
    on_days: "los {days}",
    time_of_day: "{when}, {days}: {change} (en {days_seen} días){together}.",
    right_after: "justo después",
    after: "unos {duration} después",
    trigger_action: "{first}; {after}: {then} ({occurrences} veces en {days_seen} días){together}.",
    within_second: "todo en menos de un segundo",
    first_to_last: "unos {duration} del primero al último",
    sequence: "{first}; luego: {second}; luego: {third} ({spread}; {occurrences} veces en {days_seen} días).",
    same_command: "; en el mismo comando: {changes}",
    same_moment: "; en el mismo momento: {changes}",
  },
};

function tableFor(tables, language) {
  return tables[language] || tables[String(language || "").split("-")[0]];
}

// The habit in the user's language, or null (no table for it, or a pattern stored before a field
// it needs existed): the card then shows the English description.
function describeHabit(habit, language, hass) {
  const words = tableFor(PHRASES, language);
  if (!words || !habit || !Array.isArray(habit.steps) || !habit.steps.length) return null;
  if (!Number.isInteger(habit.occurrences) || !Number.isInteger(habit.days_seen)) return null;
  const fill = (key, vars = {}) => words[key].replace(/\{(\w+)\}/g, (_, name) => String(vars[name]));
  const list = (items) => new Intl.ListFormat(language, { type: "conjunction" }).format(items);
  const duration = (seconds) => (seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`);
  // Names as HA shows them now (a renamed entity reads with its new name); other states, and a
  // binary sensor's on/off, in HA's own words for them ("heat" -> "Heizen", a door's "on" ->
  // "Offen").
  const change = ({ entity_id: id, state }) => {
    const entity = hass && hass.states ? hass.states[id] : undefined;
    const name = (entity && entity.attributes.friendly_name) || id;
    const sensor = id.startsWith("binary_sensor.") && entity;
    if (["on", "off", "activated", "pressed", "triggered"].includes(state) && !sensor) return fill(state, { name });
    const shown = entity && hass.formatEntityState ? hass.formatEntityState(entity, state) : state;
    return fill("other", { name, state: shown });
  };
  let together = "";
  if (Array.isArray(habit.together) && habit.together.length) {
    if (typeof habit.together_at_once !== "boolean") return null;
    const changes = list(habit.together.map(change));
    together = fill(habit.together_at_once ? "same_moment" : "same_command", { changes });
  }
  const counts = { occurrences: habit.occurrences, days_seen: habit.days_seen, together };
  const steps = habit.steps.map(change);
  if (habit.type === "time_of_day" && steps.length === 1 && Array.isArray(habit.weekdays)) {
    const when = habitWhen(habit, fill);
    if (!when) return null;
    return fill("time_of_day", { ...counts, when, days: habitDays(habit.weekdays, language, fill, list), change: steps[0] });
  }
  if (typeof habit.delay_s !== "number") return null;
  if (habit.type === "trigger_action" && steps.length === 2) {
    const after = habit.delay_s < 1 ? fill("right_after") : fill("after", { duration: duration(habit.delay_s) });
    return fill("trigger_action", { ...counts, first: steps[0], after, then: steps[1] });
  }
  if (habit.type === "sequence" && steps.length === 3) {
    const spread =
      habit.delay_s < 1 ? fill("within_second") : fill("first_to_last", { duration: duration(habit.delay_s) });
    return fill("sequence", { ...counts, first: steps[0], second: steps[1], third: steps[2], spread });
  }
  return null;
}

function habitWhen(habit, fill) {
  const sun = habit.sun;
  if (sun && ["sunrise", "sunset"].includes(sun.event) && Number.isFinite(sun.offset_min)) {
    if (sun.offset_min === 0) return fill(`at_${sun.event}`);
    const vars = { min: Math.abs(sun.offset_min), event: fill(sun.event) };
    return fill(sun.offset_min > 0 ? "after_sun" : "before_sun", vars);
  }
  return typeof habit.time === "string" ? fill("clock", { time: habit.time }) : null;
}

function habitDays(weekdays, language, fill, list) {
  const days = weekdays.join(",");
  if (days === "0,1,2,3,4,5,6") return fill("every_day");
  if (days === "0,1,2,3,4") return fill("weekdays");
  if (days === "5,6") return fill("weekends");
  // 0 is Monday, as in Python; 1 January 2024 was a Monday.
  const name = new Intl.DateTimeFormat(language, { weekday: "long", timeZone: "UTC" });
  const names = weekdays.map((d) => name.format(new Date(Date.UTC(2024, 0, 1 + d))));
  return fill("on_days", { days: list(names) });
}

function translate(language, key, vars = {}) {
  const table = tableFor(STRINGS, language) || STRINGS.en;
  const text = table[key] || STRINGS.en[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

function toYaml(value, indent = 0) {
  const pad = "  ".repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return value
      .map((item) => {
        if (item !== null && typeof item === "object") {
          const inner = toYaml(item, indent + 1).replace(/^\s+/, "");
          return `${pad}- ${inner}`;
        }
        return `${pad}- ${scalar(item)}`;
      })
      .join("\n");
  }
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 0) return "{}";
    return keys
      .map((key) => {
        const item = value[key];
        if (item !== null && typeof item === "object" && Object.keys(item).length > 0) {
          return `${pad}${key}:\n${toYaml(item, indent + 1)}`;
        }
        return `${pad}${key}: ${item !== null && typeof item === "object" ? toYaml(item) : scalar(item)}`;
      })
      .join("\n");
  }
  return pad + scalar(value);
}

function scalar(value) {
  if (typeof value === "string") {
    return /^[\w./ -]+$/.test(value) && !/^(on|off|yes|no|true|false|null|\d.*)$/i.test(value)
      ? value
      : JSON.stringify(value);
  }
  return String(value);
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

class HomeIQSuggestionsCard extends HTMLElement {
  // The word tables, for a look from outside (the browser test checks every language has them).
  static get strings() {
    return STRINGS;
  }

  // A habit in a language, as the card says it (null: the English description is shown).
  static describe(habit, language, hass) {
    return describeHabit(habit, language, hass);
  }

  static get phrases() {
    return PHRASES;
  }

  static getStubConfig() {
    return { max: 5 };
  }

  setConfig(config) {
    // Throwing here is how a card tells the dashboard editor what is wrong with its YAML.
    if (!config || typeof config !== "object") throw new Error(translate("en", "bad_option", { option: "config" }));
    for (const option of ["title", "entity", "config_entry_id"]) {
      if (config[option] != null && typeof config[option] !== "string") {
        throw new Error(translate("en", "bad_option", { option }));
      }
    }
    const max = config.max ?? 5;
    if (!Number.isInteger(max) || max < 1 || max > 50) throw new Error(translate("en", "bad_max"));
    const entryChanged = !this._config || this._config.config_entry_id !== config.config_entry_id;
    this._config = { ...config, max };
    if (entryChanged) this._entry = null;
    this._suggestions = this._suggestions ?? null;
    this._error = null;
    this._actionError = null;
    this._busy = this._busy ?? new Set();
    this._loads = this._loads ?? 0;
    this._stamp = undefined; // reload with the new options on the next hass update
    this._entitiesSeen = undefined; // and watch the `entity` these options name
    if (this._hass) this.hass = this._hass;
  }

  set hass(hass) {
    this._hass = hass;
    if (!this._config) return;
    // Reload when an analysis ran or a decision was made, not on every state change in HA.
    const stamp = this._watched(hass)
      .map((id) => (hass.states[id] ? hass.states[id].last_updated : ""))
      .join("|");
    if (stamp !== this._stamp) {
      this._stamp = stamp;
      this._load();
    } else if (this._admin !== this._isAdmin() || this._language !== this._languageOf(hass)) {
      this._render(); // a new user, or the user picked another language in their profile
    }
  }

  getCardSize() {
    return 3 + (this._suggestions ? this._suggestions.length * 4 : 0);
  }

  _languageOf(hass) {
    return hass ? (hass.locale && hass.locale.language) || hass.language : undefined;
  }

  _t(key, vars) {
    return translate(this._languageOf(this._hass), key, vars);
  }

  // A category or priority the card has words for, else the value as the sidecar sent it (the
  // category list is configurable).
  _value(kind, value) {
    return STRINGS.en[`${kind}_${value}`] ? this._t(`${kind}_${value}`) : value;
  }

  _isAdmin() {
    return Boolean(this._hass && this._hass.user && this._hass.user.is_admin);
  }

  // Entity ids of HomeIQ's sensors with this translation key, else [fallback].
  static ours(hass, key, fallback) {
    const found = Object.values((hass && hass.entities) || {}).filter(
      (e) => e.platform === "homeiq" && e.translation_key === key,
    );
    return found.length ? found.map((e) => e.entity_id) : [fallback];
  }

  _watched(hass) {
    if (hass.entities !== this._entitiesSeen) {
      this._entitiesSeen = hass.entities;
      const ours = this.constructor.ours;
      // The `entity` option names another sensor to follow (and read `models` from).
      this._mainId =
        this._config.entity || ours(hass, LAST_ANALYSIS_KEY, LAST_ANALYSIS_ENTITY)[0];
      const decisions = ours(hass, NEW_SUGGESTIONS_KEY, NEW_SUGGESTIONS_ENTITY);
      this._watchedIds = [this._mainId, ...decisions];
    }
    return this._watchedIds;
  }

  _models() {
    // "embed all-MiniLM-L6-v2 (int8) · rerank unavailable: ranked by embedding similarity · ..."
    const entity = this._hass && this._mainId && this._hass.states[this._mainId];
    const models = entity && entity.attributes.models;
    if (!models || typeof models !== "object") return "";
    const text = Object.entries(models)
      .map(([role, what]) => `${role} ${what}`)
      .join(" · ");
    return text ? `<div class="models">${escapeHtml(this._t("models", { value: text }))}</div>` : "";
  }

  async _entryId() {
    // The actions need HomeIQ's config entry: from the card's config, else looked up (and looked
    // up again after a failure: the entry may have been removed and added back).
    if (!this._entry) {
      this._entry = this._config.config_entry_id;
      if (!this._entry) {
        const entries = await this._hass.callWS({ type: "config_entries/get", domain: "homeiq" });
        if (!entries.length) throw new Error(this._t("not_set_up"));
        this._entry = entries[0].entry_id;
      }
    }
    return this._entry;
  }

  async _load() {
    // Loads can overlap (a decision, then the sensors it changes): only the newest one renders.
    const load = ++this._loads;
    let suggestions = null;
    let error = null;
    try {
      const result = await this._hass.callWS({
        type: "call_service",
        domain: "homeiq",
        service: "get_suggestions",
        service_data: { config_entry_id: await this._entryId() },
        return_response: true,
      });
      suggestions = ((result.response && result.response.suggestions) || [])
        .filter((s) => (s.status || "new") === "new")
        .slice(0, this._config.max);
    } catch (err) {
      error = err.message || String(err);
      this._entry = null;
    }
    if (load !== this._loads) return;
    if (suggestions) this._suggestions = suggestions;
    this._error = error;
    this._render();
  }

  async _decide(id, service, label) {
    if (this._busy.has(id)) return;
    this._busy.add(id);
    this._actionError = null;
    this._render();
    try {
      await this._hass.callService("homeiq", service, {
        config_entry_id: await this._entryId(),
        suggestion_id: id,
      });
    } catch (err) {
      // Kept until the next action: the reload below must not wipe what went wrong.
      this._actionError = this._t("action_failed", { action: label, error: err.message || String(err) });
    }
    this._busy.delete(id);
    await this._load();
  }

  _render() {
    if (!this.shadowRoot) this.attachShadow({ mode: "open" });
    this._admin = this._isAdmin();
    this._language = this._languageOf(this._hass);
    const items = this._suggestions || [];
    const list = this._error
      ? `<p class="error">${escapeHtml(this._error)}</p>`
      : this._suggestions === null
        ? `<p>${escapeHtml(this._t("loading"))}</p>`
        : items.length === 0
          ? `<p class="empty">${escapeHtml(this._t("empty"))}</p>`
          : items.map((s) => this._item(s)).join("");
    const notes = [
      this._actionError ? `<p class="error action-error">${escapeHtml(this._actionError)}</p>` : "",
      !this._admin && items.length ? `<p class="note">${escapeHtml(this._t("admin_only"))}</p>` : "",
    ].join("");
    const title = this._config.title ?? this._t("title");
    this.shadowRoot.innerHTML = `
      <style>
        ha-card { padding: 16px; }
        .item { border-top: 1px solid var(--divider-color); padding: 12px 0; }
        .item:first-of-type { border-top: none; }
        .desc { font-weight: 500; }
        .meta { color: var(--secondary-text-color); font-size: 0.9em; margin: 4px 0; }
        .chip { display: inline-block; border-radius: 10px; padding: 0 8px; margin-right: 4px;
                background: var(--secondary-background-color); }
        pre { background: var(--code-editor-background-color, var(--secondary-background-color));
              padding: 8px; overflow-x: auto; font-size: 0.8em; max-height: 14em; }
        .actions { display: flex; gap: 8px; }
        button { cursor: pointer; border: none; border-radius: 4px; padding: 6px 12px;
                 background: var(--primary-color); color: var(--text-primary-color, #fff); }
        button.dismiss { background: var(--secondary-background-color); color: var(--primary-text-color); }
        .error { color: var(--error-color); }
        .note { color: var(--secondary-text-color); font-style: italic; }
        .models { color: var(--secondary-text-color); font-size: 0.8em; margin-top: 8px;
                  border-top: 1px solid var(--divider-color); padding-top: 8px; }
      </style>
      <ha-card header="${escapeHtml(title)}">${notes}${list}${this._models()}</ha-card>`;
    this.shadowRoot.querySelectorAll("button[data-id]").forEach((button) => {
      button.addEventListener("click", () =>
        this._decide(button.dataset.id, button.dataset.service, button.textContent.trim()),
      );
    });
  }

  // The habit in the user's language; a pattern the card cannot read (a step that is not an
  // object) shows the English description instead of breaking the whole card.
  _said(s) {
    try {
      return describeHabit(s.habit, this._language, this._hass);
    } catch (err) {
      return null;
    }
  }

  _item(s) {
    const busy = this._busy.has(s.id) ? "disabled" : "";
    const confidence = s.confidence != null ? `${Math.round(s.confidence * 100)}%` : "?";
    // Accepting writes automations.yaml: HA refuses it to non-admins, so they get no buttons.
    const actions = this._admin
      ? `<div class="actions">
          <button data-id="${escapeHtml(s.id)}" data-service="accept_suggestion" ${busy}>${escapeHtml(this._t("accept"))}</button>
          <button class="dismiss" data-id="${escapeHtml(s.id)}" data-service="dismiss_suggestion" ${busy}>${escapeHtml(this._t("dismiss"))}</button>
        </div>`
      : "";
    return `
      <div class="item" data-suggestion="${escapeHtml(s.id)}">
        <div class="desc">${escapeHtml(this._said(s) || s.description || s.id)}</div>
        <div class="meta">
          <span class="chip">${escapeHtml(this._t("confidence", { value: confidence }))}</span>
          <span class="chip">${escapeHtml(s.category ? this._value("category", s.category) : this._t("uncategorised"))}</span>
          <span class="chip">${escapeHtml(this._t("priority", { value: s.priority ? this._value("priority", s.priority) : "?" }))}</span>
        </div>
        <pre>${escapeHtml(toYaml(s.automation || {}))}</pre>
        ${actions}
      </div>`;
  }
}

// Guarded: the card can be loaded twice (our extra-module URL and a manually added resource).
function defineCard(registry) {
  if (registry.get(CARD_TAG)) return false;
  registry.define(CARD_TAG, HomeIQSuggestionsCard);
  return true;
}

if (defineCard(window.customElements)) {
  window.customCards = window.customCards || [];
  window.customCards.push({
    type: CARD_TAG,
    name: "HomeIQ suggestions",
    description: "New automation suggestions with accept and dismiss.",
  });
  console.info(`HOMEIQ-SUGGESTIONS-CARD ${CARD_VERSION}`);
}

// HA's app bundle replaces window.customElements with a scoped-registry polyfill, and HA imports
// this module beside that bundle, not after it. On a cold load the module can run first: the
// card then lives only in the native registry HA drops, and every dashboard shows "Custom element
// doesn't exist" until a reload (home-assistant/frontend#53890). So, when the polyfill is not in
// place yet, watch for the swap and define the card in HA's registry too (the polyfill then
// builds the element with the native definition made above). Frontends without the polyfill
// never swap: the watch ends after a minute.
if (!window.CustomElementRegistryPolyfill) {
  const atLoad = window.customElements;
  const started = Date.now();
  const watch = window.setInterval(() => {
    if (window.customElements !== atLoad) {
      window.clearInterval(watch);
      if (defineCard(window.customElements)) {
        console.info(`HOMEIQ-SUGGESTIONS-CARD ${CARD_VERSION}: defined in Home Assistant's registry`);
      }
    } else if (Date.now() - started > 60000) {
      window.clearInterval(watch);
    }
  }, 50);
}
