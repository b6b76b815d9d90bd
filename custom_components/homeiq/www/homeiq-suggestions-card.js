// HomeIQ suggestions card: each new suggestion with its description, confidence, category and
// automation YAML, and Accept / Dismiss buttons, and which models the last analysis used. Plain
// custom element: no build step, served by the integration itself.
const CARD_VERSION = "0.2.0";
// A new analysis changes this sensor, and the card reloads the suggestions; its `models`
// attribute says which models ran (or which fallback), shown at the bottom of the card.
const DEFAULT_ENTITY = "sensor.homeiq_last_analysis";

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
  setConfig(config) {
    this._config = { title: "HomeIQ suggestions", max: 5, entity: DEFAULT_ENTITY, ...config };
    this._suggestions = null;
    this._error = null;
    this._busy = new Set();
  }

  set hass(hass) {
    const first = !this._hass;
    this._hass = hass;
    const entity = this._config.entity && hass.states[this._config.entity];
    const stamp = entity ? entity.last_updated : null;
    if (first || stamp !== this._stamp) {
      this._stamp = stamp;
      this._load();
    }
  }

  getCardSize() {
    return 3 + (this._suggestions ? this._suggestions.length * 4 : 0);
  }

  _models() {
    // "embed all-MiniLM-L6-v2 (int8) · rerank unavailable: ranked by embedding similarity · ..."
    const entity = this._hass && this._config.entity && this._hass.states[this._config.entity];
    const models = entity && entity.attributes.models;
    if (!models || typeof models !== "object") return "";
    const text = Object.entries(models)
      .map(([role, what]) => `${role} ${what}`)
      .join(" · ");
    return text ? `<div class="models">Models: ${escapeHtml(text)}</div>` : "";
  }

  async _entryId() {
    // The actions need HomeIQ's config entry: from the card's config, else looked up once.
    if (!this._entry) {
      this._entry = this._config.config_entry_id;
      if (!this._entry) {
        const entries = await this._hass.callWS({ type: "config_entries/get", domain: "homeiq" });
        if (!entries.length) throw new Error("HomeIQ is not set up.");
        this._entry = entries[0].entry_id;
      }
    }
    return this._entry;
  }

  async _load() {
    try {
      const result = await this._hass.callWS({
        type: "call_service",
        domain: "homeiq",
        service: "get_suggestions",
        service_data: { config_entry_id: await this._entryId() },
        return_response: true,
      });
      const suggestions = (result.response && result.response.suggestions) || [];
      this._suggestions = suggestions.filter((s) => (s.status || "new") === "new").slice(0, this._config.max);
      this._error = null;
    } catch (err) {
      this._error = err.message || String(err);
    }
    this._render();
  }

  async _decide(id, service) {
    this._busy.add(id);
    this._render();
    try {
      await this._hass.callService("homeiq", service, {
        config_entry_id: await this._entryId(),
        suggestion_id: id,
      });
    } catch (err) {
      this._error = err.message || String(err);
    }
    this._busy.delete(id);
    await this._load();
  }

  _render() {
    if (!this.shadowRoot) this.attachShadow({ mode: "open" });
    const items = this._suggestions || [];
    const body = this._error
      ? `<p class="error">${escapeHtml(this._error)}</p>`
      : this._suggestions === null
        ? `<p>Loading…</p>`
        : items.length === 0
          ? `<p class="empty">No new suggestions.</p>`
          : items.map((s) => this._item(s)).join("");
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
        .models { color: var(--secondary-text-color); font-size: 0.8em; margin-top: 8px;
                  border-top: 1px solid var(--divider-color); padding-top: 8px; }
      </style>
      <ha-card header="${escapeHtml(this._config.title)}">${body}${this._models()}</ha-card>`;
    this.shadowRoot.querySelectorAll("button[data-id]").forEach((button) => {
      button.addEventListener("click", () => this._decide(button.dataset.id, button.dataset.service));
    });
  }

  _item(s) {
    const busy = this._busy.has(s.id) ? "disabled" : "";
    const confidence = s.confidence != null ? `${Math.round(s.confidence * 100)}%` : "?";
    return `
      <div class="item" data-suggestion="${escapeHtml(s.id)}">
        <div class="desc">${escapeHtml(s.description || s.id)}</div>
        <div class="meta">
          <span class="chip">confidence ${confidence}</span>
          <span class="chip">${escapeHtml(s.category || "uncategorised")}</span>
          <span class="chip">priority ${escapeHtml(s.priority || "?")}</span>
        </div>
        <pre>${escapeHtml(toYaml(s.automation || {}))}</pre>
        <div class="actions">
          <button data-id="${escapeHtml(s.id)}" data-service="accept_suggestion" ${busy}>Accept</button>
          <button class="dismiss" data-id="${escapeHtml(s.id)}" data-service="dismiss_suggestion" ${busy}>Dismiss</button>
        </div>
      </div>`;
  }
}

customElements.define("homeiq-suggestions-card", HomeIQSuggestionsCard);
window.customCards = window.customCards || [];
window.customCards.push({
  type: "homeiq-suggestions-card",
  name: "HomeIQ suggestions",
  description: "New automation suggestions with accept and dismiss.",
});
console.info(`HOMEIQ-SUGGESTIONS-CARD ${CARD_VERSION}`);
