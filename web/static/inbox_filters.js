// The inbox list's "More filters": channel, team and tag, combined with the status and
// assignee filters and the search (GET /api/conversations?channel=&team=&tag=).
"use strict";

import { el, get, report } from "./api.js";

const $ = (id) => document.getElementById(id);
const channel = $("filter-channel");
const team = $("filter-team");
const tag = $("filter-tag");

/** Fill the channel and team choices; ``changed()`` runs when any of the three changes. */
export async function setupFilters(changed) {
  if (!channel) return;
  channel.addEventListener("change", changed);
  team.addEventListener("change", changed);
  let typing = null;
  tag.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(changed, 300); });
  try {
    const [channels, teams] = await Promise.all([get("/api/channels"), get("/api/teams")]);
    channel.append(...channels.items.map((c) => el("option", { value: c.id }, c.name || c.kind)));
    team.append(...teams.items.map((t) => el("option", { value: t.id }, t.name)));
  } catch (err) {
    report(err, "Could not load the filters");
  }
}

/** The chosen filters as query parameters. */
export function filterParams(params) {
  if (!channel) return;
  if (channel.value) params.set("channel", channel.value);
  if (team.value) params.set("team", team.value);
  if (tag.value.trim()) params.set("tag", tag.value.trim());
}

/** Whether a conversation (live, from the socket) passes the chosen filters. */
export function passes(conv) {
  if (!channel) return true;
  if (channel.value && conv.channel?.id !== channel.value) return false;
  if (team.value === "none" && conv.team_id) return false;
  if (team.value && team.value !== "none" && conv.team_id !== team.value) return false;
  if (tag.value.trim() && !(conv.tags || []).includes(tag.value.trim())) return false;
  return true;
}
