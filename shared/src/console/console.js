// The lock service console: sign in with an API key, see the user's locks
// and semaphores, force-release or delete them. Every name and holder is
// rendered with textContent; the key lives in sessionStorage only.
"use strict";

const KEY_STORAGE = "lock-service-api-key";
const LOCK_PAGE = 100;
const SEMAPHORE_PAGE = 50;
const AUTO_REFRESH_MS = 5000;

// The API of this page's own stage: the page's path without "/console".
const apiBase = location.pathname.replace(/\/console\/?$/, "");
const signupMode = document.querySelector('meta[name="signup-mode"]').content;

const $ = (id) => document.getElementById(id);

/** A paged list the page shows: its route and the field of its answer,
 * the items loaded, where the next page starts, how many pages are shown. */
function pagedList(path, field, limit) {
  return { path, field, limit, items: [], cursor: null, pages: 1 };
}
const locks = pagedList("/v0/locks", "locks", LOCK_PAGE);
const semaphores = pagedList("/v0/semaphores", "semaphores", SEMAPHORE_PAGE);

const state = {
  // Server clock minus this browser's, from the answers' Date header.
  skewMs: 0,
  autoRefresh: null,
  // Counts reloads, so an answer overtaken by a newer reload is dropped.
  reloads: 0,
};

/** An error the API answered, with its status and message. */
class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

function say(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

/** Calls the API; throws ApiError on any answer but 2xx. */
async function call(method, path, body, authorized = true) {
  const headers = {};
  if (authorized) headers.Authorization = "Bearer " + apiKey();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(apiBase + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (err) {
    throw new ApiError(0, "The service could not be reached: " + err.message);
  }
  const date = Date.parse(response.headers.get("Date") || "");
  if (!Number.isNaN(date)) state.skewMs = date - Date.now();
  let answer = {};
  try {
    answer = await response.json();
  } catch (_) {
    // An answer without a JSON body keeps its status.
  }
  if (response.ok) return answer;
  if (response.status === 401 && authorized) {
    signOut("That API key was refused (401 Unauthorized). Sign in with a valid key.");
  }
  if (response.status === 429) {
    throw new ApiError(429, "Too many requests: slow down and try again in a few seconds.");
  }
  throw new ApiError(response.status, answer.message || "HTTP " + response.status);
}

function serverNow() {
  return Date.now() + state.skewMs;
}

function formatTime(text) {
  return text ? text.replace("T", " ").replace(/\.\d+Z$/, " UTC") : "—";
}

function countdown(expiresAt) {
  if (!expiresAt) return "never";
  const left = Math.round((Date.parse(expiresAt) - serverNow()) / 1000);
  if (left <= 0) return "expired";
  const minutes = Math.floor(left / 60);
  return minutes > 0 ? `in ${minutes} min ${left % 60} s` : `in ${left} s`;
}

function tickCountdowns() {
  for (const cell of document.querySelectorAll("[data-expires]")) {
    cell.textContent = countdown(cell.dataset.expires);
  }
}

function cell(row, label, text, className) {
  const td = document.createElement("td");
  td.dataset.label = label;
  if (text !== undefined) td.textContent = text;
  if (className) td.className = className;
  row.append(td);
  return td;
}

function button(text, onClick, danger = false) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (danger) b.className = "danger";
  b.addEventListener("click", onClick);
  return b;
}

function expiryCell(row, expiresAt) {
  const td = cell(row, "Expires", countdown(expiresAt));
  if (expiresAt) {
    td.dataset.expires = expiresAt;
    td.title = formatTime(expiresAt);
  }
  return td;
}

/** Asks through the page's dialog; resolves true on "Confirm". */
function confirmAction(text) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

/** Runs a confirmed action, says its outcome, and reloads. */
async function act(question, action, done) {
  if (!(await confirmAction(question))) {
    say("Cancelled.");
    return;
  }
  try {
    const answer = await action();
    say(done(answer));
  } catch (err) {
    say(err.message, true);
  }
  await reload();
}

// ---------------------------------------------------------------- locks

function renderLocks() {
  const filter = $("filter").value.trim().toLowerCase();
  const tbody = $("locks").tBodies[0];
  const rows = locks.items
    .filter((lock) => lock.lockName.toLowerCase().includes(filter))
    .map(lockRow);
  tbody.replaceChildren(...rows);
  $("locks-empty").hidden = rows.length > 0;
  $("locks-empty").textContent = locks.items.length ? "No lock matches the filter." : "No locks.";
  $("more-locks").hidden = !locks.cursor;
}

function lockRow(lock) {
  const row = document.createElement("tr");
  cell(row, "Name", lock.lockName, "name");
  cell(row, "State", lock.locked ? "held" : "free", lock.locked ? "held" : "free");
  cell(row, "Holder", lock.locked ? lock.leasedBy : "—");
  cell(row, "Since", lock.locked ? formatTime(lock.acquiredAt || lock.updatedAt) : "—");
  if (lock.locked) expiryCell(row, lock.expiresAt);
  else cell(row, "Expires", "—");
  cell(row, "Fencing token", String(lock.fencingToken));
  const actions = cell(row, "Action");
  if (lock.locked) {
    actions.append(button("Force release", () => act(
      `Force release lock “${lock.lockName}”? Its holder “${lock.leasedBy}” loses it at once.`,
      () => call("POST", "/v0/unlock", { lockName: lock.lockName, force: true }),
      (answer) => answer.unlocked
        ? `Lock “${lock.lockName}” force-released.`
        : `Lock “${lock.lockName}”: ${answer.message || "was not held"}.`,
    ), true));
  } else {
    actions.append(button("Delete", () => act(
      `Delete lock “${lock.lockName}”? Its fencing token history ends with it.`,
      () => call("POST", "/v0/lock/delete", { lockName: lock.lockName }),
      () => `Lock “${lock.lockName}” deleted.`,
    ), true));
  }
  return row;
}

// ---------------------------------------------------------------- semaphores

function renderSemaphores() {
  const filter = $("filter").value.trim().toLowerCase();
  const rows = semaphores.items
    .filter((s) => s.semaphoreName.toLowerCase().includes(filter))
    .map(semaphoreRow);
  $("semaphores").tBodies[0].replaceChildren(...rows);
  $("semaphores-empty").hidden = rows.length > 0;
  $("more-semaphores").hidden = !semaphores.cursor;
}

function semaphoreRow(semaphore) {
  const name = semaphore.semaphoreName;
  const row = document.createElement("tr");
  cell(row, "Name", name, "name");
  cell(row, "Permits", `${semaphore.holders.length} of ${semaphore.permits} held`, "short");
  const holders = cell(row, "Holders");
  if (semaphore.holders.length === 0) holders.textContent = "—";
  const list = document.createElement("ul");
  list.className = "holders";
  for (const holder of semaphore.holders) {
    const item = document.createElement("li");
    const text = document.createElement("span");
    text.textContent = `permit ${holder.permit}: ${holder.leasedBy}, since ${formatTime(holder.acquiredAt)}, token ${holder.fencingToken}, expires `;
    const expires = document.createElement("span");
    expires.textContent = countdown(holder.expiresAt);
    if (holder.expiresAt) expires.dataset.expires = holder.expiresAt;
    item.append(text, expires, " ", button("Release permit", () => act(
      `Release permit ${holder.permit} of semaphore “${name}”, held by “${holder.leasedBy}”?`,
      () => call("POST", "/v0/semaphore/release", {
        semaphoreName: name, leaseId: holder.leaseId, permit: holder.permit,
      }),
      (answer) => answer.released
        ? `Permit ${holder.permit} of “${name}” released.`
        : `Permit ${holder.permit} of “${name}”: ${answer.message || "was not held"}.`,
    ), true));
    list.append(item);
  }
  if (semaphore.holders.length) holders.append(list);
  const actions = cell(row, "Action");
  if (semaphore.holders.length) {
    actions.append(button("Force release", () => act(
      `Force release every permit of semaphore “${name}”? Its ${semaphore.holders.length} holders lose them at once.`,
      () => call("POST", "/v0/semaphore/release", { semaphoreName: name, force: true }),
      () => `Every permit of “${name}” force-released.`,
    ), true));
  } else {
    actions.append(button("Delete", () => act(
      `Delete semaphore “${name}”?`,
      () => call("POST", "/v0/semaphore/delete", { semaphoreName: name }),
      () => `Semaphore “${name}” deleted.`,
    ), true));
  }
  return row;
}

// ---------------------------------------------------------------- loading

/** One page of `list` from `cursor` (the first page without one). */
async function fetchPage(list, cursor) {
  const query = new URLSearchParams({ limit: String(list.limit) });
  if (cursor) query.set("cursor", cursor);
  const answer = await call("GET", list.path + "?" + query);
  return { items: answer[list.field], cursor: answer.nextCursor || null };
}

/** As many pages of `list` as are shown, afresh. */
async function fetchShown(list) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < list.pages; page++) {
    const next = await fetchPage(list, cursor);
    items.push(...next.items);
    cursor = next.cursor;
    if (!cursor) break;
  }
  return { items, cursor };
}

/** Reloads as many pages of each list as were shown. */
async function reload() {
  if (!apiKey()) return;
  const mine = ++state.reloads;
  try {
    const shownLocks = await fetchShown(locks);
    const shownSemaphores = await fetchShown(semaphores);
    if (mine !== state.reloads) return; // a newer reload shows its own
    Object.assign(locks, shownLocks);
    Object.assign(semaphores, shownSemaphores);
    renderLocks();
    renderSemaphores();
  } catch (err) {
    if (apiKey() && mine === state.reloads) say(err.message, true);
  }
}

/** The next page of `list`, added to the shown ones. */
async function more(list, render) {
  try {
    const next = await fetchPage(list, list.cursor);
    list.items.push(...next.items);
    list.cursor = next.cursor;
    list.pages += 1;
    render();
  } catch (err) {
    say(err.message, true);
  }
}

function setAutoRefresh(on) {
  clearInterval(state.autoRefresh);
  state.autoRefresh = on ? setInterval(reload, AUTO_REFRESH_MS) : null;
  $("auto-refresh").checked = on;
}

// ---------------------------------------------------------------- signing in

function show(signedIn) {
  $("sign-in-view").hidden = signedIn;
  $("locks-view").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
}

async function signIn(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
  locks.pages = semaphores.pages = 1;
  show(true);
  say("Loading…");
  await reload();
  if (apiKey()) say(`Signed in. ${locks.items.length} locks, ${semaphores.items.length} semaphores.`);
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  setAutoRefresh(false);
  for (const list of [locks, semaphores]) Object.assign(list, { items: [], cursor: null });
  $("locks").tBodies[0].replaceChildren();
  $("semaphores").tBodies[0].replaceChildren();
  $("api-key").value = "";
  show(false);
  say(message, message !== "Signed out.");
  $("api-key").focus();
}

async function signUp() {
  try {
    const user = await call("POST", "/v0/users/anonymous", undefined, false);
    $("new-user-id").textContent = user.userId;
    $("new-api-key").textContent = user.apiKey;
    $("new-key").hidden = false;
    await signIn(user.apiKey);
  } catch (err) {
    say(err.message, true);
  }
}

function start() {
  $("sign-up").hidden = signupMode !== "open";
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    $("api-key").value = "";
    signIn(key);
  });
  $("sign-up").addEventListener("click", signUp);
  $("sign-out").addEventListener("click", () => signOut("Signed out."));
  $("saved-key").addEventListener("click", () => {
    $("new-key").hidden = true;
    $("new-api-key").textContent = "";
  });
  $("refresh").addEventListener("click", async () => {
    await reload();
    say("Refreshed.");
  });
  $("auto-refresh").addEventListener("change", (event) => setAutoRefresh(event.target.checked));
  $("filter").addEventListener("input", () => {
    renderLocks();
    renderSemaphores();
  });
  $("more-locks").addEventListener("click", () => more(locks, renderLocks));
  $("more-semaphores").addEventListener("click", () => more(semaphores, renderSemaphores));
  setInterval(tickCountdowns, 1000);
  if (apiKey()) signIn(apiKey());
  else show(false);
}

start();
