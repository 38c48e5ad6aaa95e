// The chat page. Server text (questions, answers, passages, titles) is only ever inserted as text
// (textContent, text nodes, append(string)), never as HTML.
"use strict";

(() => {
  const STORAGE_KEY = "qa-chat-v1";
  const HISTORY_TURNS = 4; // turns sent with a follow-up question
  const KEPT_TURNS = 30; // turns kept across reloads
  const TIMEOUT_MS = 15000;
  const TOO_LONG = "This conversation is too long to send; start a New chat to ask this question.";
  const SUGGESTIONS = 4;
  const CLAMP_CHARS = 360; // passages and overview sentences longer than this start folded
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];

  const $ = (id) => document.getElementById(id);
  const form = $("ask-form");
  const box = $("question");
  const sendButton = $("send");
  const conversation = $("conversation");
  const emptyState = $("empty-state");
  const chatTitle = $("chat-title");
  const announcer = $("announcer");
  const suggestions = $("suggestions");
  const suggestionList = $("suggestion-list");
  const filters = $("filters");
  const filtersSummary = $("filters-summary");
  const dateFrom = $("date-from");
  const dateTo = $("date-to");
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  // What the server takes (chat.html's data-* from pages.chat): a larger body is refused with 413, and of the
  // history it reads the last turns and so many characters of each field. Sending more only risks the 413.
  const limit = (name) => Number.parseInt(form.dataset[name], 10);
  const MAX_BODY_BYTES = limit("maxBodyBytes");
  const SENT_TURNS = Math.min(HISTORY_TURNS, limit("historyTurns"));
  const QUESTION_CHARS = limit("historyQuestionChars");
  const ANSWER_CHARS = limit("historyAnswerChars");
  const ARTICLE_ID_CHARS = limit("articleIdChars");

  let turns = []; // answered turns: {question, filters: {date_from?, date_to?}, data}
  let inFlight = null; // {controller} while a question is being answered
  let generation = 0; // bumped by "New chat": replies to an older conversation are dropped

  // ---------- small helpers ----------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // The first `n` characters as the server counts them (code points, as Python does): never half an emoji.
  function clip(text, n) {
    return text.length <= n ? text : Array.from(text).slice(0, n).join("");
  }

  function isoDay(value) {
    return typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : null;
  }

  function longDate(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
    if (!m || +m[2] < 1 || +m[2] > 12) return "";
    return `${+m[3]} ${MONTHS[+m[2] - 1]} ${m[1]}`;
  }

  function dateNode(iso) {
    if (!isoDay(iso)) return el("span", "undated", "undated");
    const node = el("time", "", longDate(iso));
    node.dateTime = iso;
    return node;
  }

  function announce(message) {
    announcer.textContent = "";
    window.setTimeout(() => { announcer.textContent = message; }, 50);
  }

  function scrollToTurn(node) {
    node.scrollIntoView({block: "start", behavior: reducedMotion ? "auto" : "smooth"});
  }

  // ---------- storage ----------

  function save() {
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify({
        turns: turns.slice(-KEPT_TURNS),
        filters: currentFilters(),
      }));
    } catch (err) {
      // Private browsing or a full quota: the conversation just won't survive a reload.
    }
  }

  function load() {
    let saved = null;
    try {
      saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
    } catch (err) {
      saved = null;
    }
    if (!saved || typeof saved !== "object") return {turns: [], filters: {}};
    const kept = Array.isArray(saved.turns) ? saved.turns.filter((t) => t && typeof t.question === "string"
      && t.data && typeof t.data === "object" && (Array.isArray(t.data.passages) || isOverviewData(t.data))) : [];
    return {turns: kept.slice(-KEPT_TURNS), filters: saved.filters && typeof saved.filters === "object" ? saved.filters : {}};
  }

  // ---------- date filter ----------

  function currentFilters() {
    const chosen = {};
    if (isoDay(dateFrom.value)) chosen.date_from = dateFrom.value;
    if (isoDay(dateTo.value)) chosen.date_to = dateTo.value;
    return chosen;
  }

  function describeFilters(chosen) {
    if (chosen.date_from && chosen.date_to) return `${longDate(chosen.date_from)} – ${longDate(chosen.date_to)}`;
    if (chosen.date_from) return `from ${longDate(chosen.date_from)}`;
    if (chosen.date_to) return `until ${longDate(chosen.date_to)}`;
    return "";
  }

  function showFilters() {
    const text = describeFilters(currentFilters());
    filtersSummary.textContent = text || "all editorials";
    filters.classList.toggle("active", Boolean(text));
    const problem = $("filters-error");
    if (problem) problem.remove();
  }

  function setFilters(chosen) {
    dateFrom.value = isoDay(chosen.date_from) || "";
    dateTo.value = isoDay(chosen.date_to) || "";
    showFilters();
  }

  function filtersProblem() {
    const chosen = currentFilters();
    if (chosen.date_from && chosen.date_to && chosen.date_from > chosen.date_to) {
      return "The “To” date is before the “From” date.";
    }
    return null;
  }

  // ---------- rendering a reply ----------

  // Python offsets count code points; JavaScript strings count UTF-16 units. Slice by code point.
  function splitAt(text, answer) {
    const chars = Array.from(text);
    const {start, end} = answer;
    if (Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= chars.length) {
      const parts = [chars.slice(0, start).join(""), chars.slice(start, end).join(""), chars.slice(end).join("")];
      if (typeof answer.text !== "string" || parts[1].trim() === answer.text.trim()) return parts;
    }
    const at = typeof answer.text === "string" && answer.text ? text.indexOf(answer.text) : -1;
    if (at < 0) return null;
    return [text.slice(0, at), answer.text, text.slice(at + answer.text.length)];
  }

  function quote(text, answer) {
    const node = el("blockquote", "quote");
    const parts = answer ? splitAt(text, answer) : null;
    if (parts) {
      node.append(parts[0], el("mark", "", parts[1]), parts[2]);
    } else {
      node.textContent = text;
    }
    return node;
  }

  function articleHref(c) {
    return `/articles/${encodeURIComponent(c.article_id)}#p${encodeURIComponent(c.paragraph)}`;
  }

  function citation(c, rank) {
    const wrap = el("div", "cite");
    const link = el("a", "cite-link");
    link.href = articleHref(c);
    link.append(el("span", "cite-num", `[${rank}]`), " ", el("span", "cite-title", c.title || c.article_id));
    const meta = el("span", "cite-meta");
    meta.append(dateNode(c.date), " · ", el("span", "cite-para", `¶${c.paragraph}`));
    wrap.append(link, " ", meta);
    return wrap;
  }

  function scoreNode(score) {
    const node = el("span", "score", typeof score === "number" ? `score ${score.toFixed(3)}` : "");
    node.title = "Retrieval score: higher means a closer match";
    return node;
  }

  function passageItem(p, answer) {
    const weak = !answer;
    const item = el("li", weak ? "passage weak" : "passage");
    const head = el("div", "passage-head");
    head.append(citation(p.citation, p.rank));
    const tags = el("span", "passage-tags");
    if (weak) tags.append(el("span", "badge", "weak match"));
    if (answer && answer.passage === p.rank) tags.append(el("span", "badge badge-answer", "answer"));
    tags.append(scoreNode(p.score));
    head.append(tags);
    const text = quote(p.text, answer && answer.passage === p.rank ? answer : null);
    item.append(head, text);
    const more = foldIfLong(text, p.text, "passage");
    if (more) item.append(more);
    return item;
  }

  // A text longer than CLAMP_CHARS starts folded to a few lines, so that one long passage or sentence (a
  // paragraph without a full stop can be 10,000 characters) does not make a screen-high row; the button
  // returned unfolds it and folds it again. null for a short text.
  function foldIfLong(node, text, what) {
    if (text.length <= CLAMP_CHARS) return null;
    node.classList.add("clamped");
    const more = el("button", "more-button", `Show the whole ${what}`);
    more.type = "button";
    more.setAttribute("aria-expanded", "false");
    more.addEventListener("click", () => {
      const open = node.classList.toggle("clamped") === false;
      more.setAttribute("aria-expanded", String(open));
      more.textContent = open ? "Show less" : `Show the whole ${what}`;
    });
    return more;
  }

  function cleanPassages(data) {
    return (Array.isArray(data.passages) ? data.passages : []).filter((p) => p && typeof p.text === "string"
      && p.citation && typeof p.citation === "object" && typeof p.citation.article_id === "string");
  }

  function readingOf(data) {
    // A follow-up is read against the conversation; say how (its pronouns, what it was searched as, the
    // editorial searched first), so that a wrong reading shows.
    const context = data.context && typeof data.context === "object" ? data.context : {};
    const pronouns = Array.isArray(context.pronouns) ? context.pronouns.filter((p) => p
      && typeof p.word === "string" && typeof p.as === "string") : [];
    const resolved = typeof data.resolved_question === "string" ? data.resolved_question : "";
    const title = typeof context.title === "string" ? context.title : "";
    if (!pronouns.length && !resolved && !title) return null;
    const read = el("p", "searched-as");
    for (const p of pronouns) {
      const line = el("span", "reading-pronoun");
      line.append("Reading “", el("bdi", "", p.word), "” as ", el("bdi", "reading-as", p.as), ".");
      read.append(line);
    }
    if (resolved) {
      const line = el("span", "searched-as-line");
      line.append(el("span", "searched-as-label", "Searched as: "), el("q", "searched-as-text", resolved));
      read.append(line);
    }
    if (title) {
      const where = el("span", "searched-in");
      where.append(el("span", "searched-as-label", "Searched in: "), el("bdi", "searched-in-title", title));
      read.append(where);
    }
    return read;
  }

  function renderReply(data, chosen) {
    const reply = el("div", "reply");
    const passages = cleanPassages(data);
    const answer = data.found !== false && data.answer && typeof data.answer.text === "string" ? data.answer : null;
    const source = answer ? passages.find((p) => p.rank === answer.passage) : null;
    const reading = readingOf(data);
    if (reading) reply.append(reading);
    if (answer) {
      const line = el("p", "answer");
      line.append(el("span", "reply-label", "Answer"), el("span", "answer-text", answer.text));
      if (source) {
        const ref = el("a", "ref", `[${source.rank}]`);
        ref.href = articleHref(source.citation);
        ref.setAttribute("aria-label", `Source ${source.rank}: ${source.citation.title}, paragraph ${source.citation.paragraph}`);
        line.append(" ", ref);
      }
      reply.append(line);
      if (source) {
        const context = el("figure", "context");
        const caption = el("figcaption", "context-caption");
        caption.append(el("span", "context-label", "In context"), citation(source.citation, source.rank));
        context.append(caption, quote(source.text, answer));
        reply.append(context);
      }
      const also = alsoInEditorial(data, passages);
      if (also) reply.append(also);
    } else {
      reply.classList.add("not-found");
      reply.append(el("p", "answer not-found-text", notFoundText(data)));
      if (passages.length) {
        reply.append(el("p", "hint", "The passages below are the nearest ones, but they are weak matches "
          + "and probably do not answer the question."));
      } else if (describeFilters(chosen || {})) {
        reply.append(el("p", "hint", "No editorial in the chosen date range matched. Try a wider range."));
      }
    }
    const offer = offerOverview(data);
    if (offer) reply.append(offer);
    if (passages.length) {
      const sources = el("section", "sources");
      sources.append(el("h3", "sources-title", answer ? `Sources (${passages.length})` : "Nearest passages (weak matches)"));
      const list = el("ol", "passages");
      for (const p of passages) list.append(passageItem(p, answer));
      sources.append(list);
      reply.append(sources);
    }
    return reply;
  }

  // When the best sentence is unsure, the next best of the same editorial come with it (`alternatives`):
  // each quoted with a link to its paragraph, so a reader sees them without asking again.
  function alsoInEditorial(data, passages) {
    const alternatives = (Array.isArray(data.alternatives) ? data.alternatives : []).filter((a) => a
      && typeof a.text === "string" && passages.some((p) => p.rank === a.passage));
    if (!alternatives.length) return null;
    const section = el("section", "also");
    section.append(el("h3", "also-title", "Also in this editorial:"));
    const list = el("ul", "also-list");
    for (const a of alternatives) {
      const cited = passages.find((p) => p.rank === a.passage).citation;
      const item = el("li", "also-item");
      const link = el("a", "also-link", `¶${cited.paragraph}`);
      link.href = articleHref(cited);
      link.setAttribute("aria-label", `¶${cited.paragraph}: paragraph ${cited.paragraph} of ${cited.title}`);
      item.append(el("span", "also-text", a.text), " ", link);
      list.append(item);
    }
    section.append(list);
    return section;
  }

  function notFoundText(data) {
    // A follow-up searched in the editorial under discussion is declined as such, not as "the editorials".
    const inEditorial = data.context && typeof data.context === "object" && typeof data.context.article_id === "string";
    return inEditorial ? "I couldn't find this in that editorial." : "I couldn't find this in the editorials.";
  }

  function summary(data) {
    if (data.found !== false && data.answer && typeof data.answer.text === "string") {
      return `Answer: ${data.answer.text}`;
    }
    const n = cleanPassages(data).length;
    return `${notFoundText(data)} ${n} nearest passage${n === 1 ? "" : "s"} shown as weak matches.`;
  }

  // ---------- turns ----------

  function shareHref(question, chosen) {
    const params = new URLSearchParams({q: question});
    if (chosen && chosen.date_from) params.set("from", chosen.date_from);
    if (chosen && chosen.date_to) params.set("to", chosen.date_to);
    return `/?${params}`;
  }

  function shareLink(question, chosen) {
    // Named by its visible words, then what it links to: a label that did not start with the words shown
    // ("Copy a link that …") fails speech users, who say what they see (WCAG 2.5.3).
    const link = el("a", "share-link");
    const named = () => link.replaceChildren("Copy link", el("span", "visually-hidden", " to this question"));
    named();
    link.href = shareHref(question, chosen);
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      const url = new URL(link.getAttribute("href"), location.href).href;
      try {
        await navigator.clipboard.writeText(url);
        link.textContent = "Link copied";
        announce("Link copied");
        window.setTimeout(named, 2500);
      } catch (err) {
        window.prompt("Copy this link to share the question:", url);
      }
    });
    return link;
  }

  function turnView(question, chosen) {
    const node = el("div", "turn");
    const asked = el("div", "asked");
    asked.append(el("h2", "bubble-user", question));
    const meta = el("div", "asked-meta");
    const range = describeFilters(chosen || {});
    if (range) meta.append(el("span", "range", `Dates: ${range}`));
    meta.append(shareLink(question, chosen));
    asked.append(meta);
    const slot = el("div", "reply-slot");
    node.append(asked, slot);
    return {node, slot};
  }

  function showEmpty(show) {
    emptyState.hidden = !show;
    chatTitle.classList.toggle("visually-hidden", !show); // still the page's heading for screen readers
  }

  function restoreConversation(saved) {
    for (const turn of saved) {
      try {
        const view = turnView(turn.question, turn.filters);
        view.slot.append(renderAny(turn.data, turn.filters));
        conversation.append(view.node);
        turns.push(turn);
      } catch (err) {
        // A turn saved by an older version of the page that no longer renders: drop it.
      }
    }
    showEmpty(turns.length === 0);
  }

  function setBusy(busy) {
    sendButton.disabled = busy;
    sendButton.textContent = busy ? "Asking…" : "Ask";
    form.setAttribute("aria-busy", String(busy));
  }

  function retireRetries() {
    for (const failed of conversation.querySelectorAll(".reply-error")) {
      const button = failed.querySelector(".retry-button");
      if (button) button.remove();
    }
  }

  function historyForApi() {
    // Each turn goes back with the answer shown and where it came from, so a follow-up ("Why now?") is
    // searched in the editorial under discussion first; cut to what the server reads of it.
    return turns.slice(-SENT_TURNS).map((t) => {
      const answer = t.data.answer && typeof t.data.answer.text === "string" ? t.data.answer : null;
      const source = answer ? cleanPassages(t.data).find((p) => p.rank === answer.passage) : null;
      const turn = {question: clip(t.question, QUESTION_CHARS), answer: answer ? clip(answer.text, ANSWER_CHARS) : ""};
      if (source && Array.from(source.citation.article_id).length <= ARTICLE_ID_CHARS) {
        turn.article_id = source.citation.article_id;
        if (Number.isInteger(source.citation.paragraph)) turn.paragraph = source.citation.paragraph;
      }
      return turn;
    });
  }

  // The body as sent: if it is still over the server's limit (answers full of characters JSON escapes), the
  // oldest turns are left out until it fits.
  function encodeBody(body) {
    let text = JSON.stringify(body);
    while (Array.isArray(body.history) && body.history.length && new Blob([text]).size > MAX_BODY_BYTES) {
      body = {...body, history: body.history.slice(1)};
      text = JSON.stringify(body);
    }
    return text;
  }

  function ask(question, {history = historyForApi(), overview = wantsOverview(question), topic = question} = {}) {
    if (inFlight) return;
    retireRetries();
    showEmpty(false);
    const pending = {question, filters: currentFilters(), history, overview, topic};
    const view = turnView(question, pending.filters);
    conversation.append(view.node);
    send(pending, view);
  }

  function errorView(message, pending, view) {
    const panel = el("div", "reply reply-error");
    panel.append(el("p", "error-text", message));
    // Sent again, a conversation too long to send is refused again: the way on is the question on its own.
    const fresh = message === TOO_LONG;
    const retry = el("button", "retry-button", fresh ? "Ask in a new chat" : "Retry");
    retry.type = "button";
    retry.addEventListener("click", () => {
      if (inFlight) return;
      if (fresh) {
        newChat();
        ask(pending.question, {overview: pending.overview, topic: pending.topic, history: []});
      } else {
        send(pending, view);
      }
    });
    panel.append(retry);
    return panel;
  }

  async function send(pending, view) {
    const mine = generation;
    const controller = new AbortController();
    let timedOut = false;
    const timer = window.setTimeout(() => { timedOut = true; controller.abort(); }, TIMEOUT_MS);
    inFlight = {controller};
    setBusy(true);
    const waiting = el("p", "waiting", "Searching the editorials");
    view.slot.replaceChildren(waiting);
    view.node.scrollIntoView({block: "nearest"});
    let data = null;
    let problem = null;
    try {
      const wanted = request(pending);
      const response = await fetch(wanted.url, {
        method: "POST",
        headers: {"Content-Type": "application/json", "Accept": "application/json"},
        body: encodeBody(wanted.body),
        signal: controller.signal,
      });
      const body = await response.json().catch(() => null);
      if (response.ok && body && typeof body === "object" && wanted.valid(body)) {
        data = body;
      } else if (response.status === 413) {
        problem = TOO_LONG;
      } else {
        const detail = body && body.error && typeof body.error.message === "string" ? body.error.message : "no details";
        problem = `Sorry, the service answered with an error (${response.status}): ${detail}.`;
      }
    } catch (err) {
      problem = timedOut
        ? `Sorry, the service took too long to answer (more than ${TIMEOUT_MS / 1000} seconds).`
        : "Sorry, the service could not be reached. Check your connection and try again.";
    } finally {
      window.clearTimeout(timer);
    }
    if (mine !== generation) return; // "New chat" was pressed meanwhile
    inFlight = null;
    setBusy(false);
    if (data) {
      const turn = {question: pending.question, filters: pending.filters, data};
      view.slot.replaceChildren(renderAny(data, pending.filters));
      turns.push(turn);
      if (turns.length > KEPT_TURNS) turns = turns.slice(-KEPT_TURNS);
      save();
      announce(summaryAny(data));
    } else {
      view.slot.replaceChildren(errorView(problem, pending, view));
      announce(problem);
    }
    scrollToTurn(view.node);
    box.focus({preventScroll: true});
  }

  function newChat() {
    generation += 1;
    if (inFlight) inFlight.controller.abort();
    inFlight = null;
    setBusy(false);
    turns = [];
    save();
    conversation.replaceChildren(chatTitle, emptyState);
    showEmpty(true);
    loadSuggestions();
    box.value = "";
    autosize();
    box.focus();
    announce("New chat started");
  }

  // ---------- suggestions from the indexed titles ----------

  let suggestionsLoaded = false;

  async function loadSuggestions() {
    if (suggestionsLoaded) return;
    suggestionsLoaded = true;
    try {
      const response = await fetch("/api/articles", {headers: {"Accept": "application/json"}});
      const body = await response.json();
      const titled = (Array.isArray(body.articles) ? body.articles : [])
        .filter((a) => a && typeof a.title === "string" && a.title.trim());
      for (let i = titled.length - 1; i > 0; i -= 1) { // shuffle, so the examples vary between visits
        const j = Math.floor(Math.random() * (i + 1));
        [titled[i], titled[j]] = [titled[j], titled[i]];
      }
      suggestionList.replaceChildren();
      for (const article of titled.slice(0, SUGGESTIONS)) {
        const title = article.title.trim();
        const question = `What is “${title}” about?`;
        const button = el("button", "suggestion");
        // the title isolated, so that a right-to-left one cannot reorder the quotes and words around it
        button.append("What is “", el("bdi", "", title), "” about?");
        button.type = "button";
        button.addEventListener("click", () => {
          if (!inFlight) ask(question);
          box.focus({preventScroll: true});
        });
        const item = el("li");
        item.append(button);
        suggestionList.append(item);
      }
      suggestions.hidden = suggestionList.children.length === 0;
    } catch (err) {
      suggestionsLoaded = false; // try again on the next "New chat"
      suggestions.hidden = true;
    }
  }

  // ---------- the question box ----------

  function autosize() {
    box.style.height = "auto";
    box.style.height = `${Math.min(box.scrollHeight + 2, 240)}px`;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (inFlight) return;
    const question = box.value.trim();
    if (!question) {
      box.focus();
      return;
    }
    const problem = filtersProblem();
    if (problem) {
      filters.open = true;
      const note = el("p", "error-text", problem);
      note.id = "filters-error";
      const old = $("filters-error");
      if (old) old.remove();
      filters.querySelector(".filters-body").append(note);
      announce(problem);
      dateTo.focus();
      return;
    }
    box.value = "";
    autosize();
    ask(question);
  });

  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (!inFlight) form.requestSubmit();
    }
  });
  box.addEventListener("input", autosize);

  for (const input of [dateFrom, dateTo]) {
    input.addEventListener("change", () => {
      showFilters();
      save();
    });
  }
  $("clear-dates").addEventListener("click", () => {
    setFilters({});
    save();
    dateFrom.focus();
  });

  $("new-chat").addEventListener("click", newChat);

  // ---------- overview of a topic (overview.js) ----------
  // "What has the paper said about X?" is sent to /api/overview and shown by overview.js; an ordinary
  // reply offers "All editorials on this". An overview turn is {question, filters, data: its body}.

  const overviewApi = window.QAOverview || null;
  const overviewHelpers = {el, dateNode, describeFilters, foldIfLong};

  function wantsOverview(question) {
    return Boolean(overviewApi && overviewApi.isOverviewQuestion(question));
  }

  function isOverviewData(data) {
    return Boolean(overviewApi && overviewApi.isOverview(data));
  }

  function request(pending) {
    if (pending.overview) {
      return {url: "/api/overview", body: {topic: pending.topic, ...pending.filters}, valid: isOverviewData};
    }
    return {url: "/api/ask", body: {question: pending.question, history: pending.history, ...pending.filters},
      valid: (body) => Array.isArray(body.passages)};
  }

  function renderAny(data, chosen) {
    return isOverviewData(data) ? overviewApi.render(data, chosen, overviewHelpers) : renderReply(data, chosen);
  }

  function summaryAny(data) {
    return isOverviewData(data) ? overviewApi.summary(data) : summary(data);
  }

  // A topic the overview route takes: at most as long as a question (the box's maxlength, the server's limit).
  // The resolved question adds names to the question asked, so it can be longer: it is cut at a word.
  function asTopic(text) {
    const whole = text.trim();
    const cut = clip(whole, box.maxLength);
    if (cut === whole) return whole;
    const space = cut.lastIndexOf(" ");
    return (space > cut.length / 2 ? cut.slice(0, space) : cut).trim();
  }

  function offerOverview(data) {
    const asked = typeof data.resolved_question === "string" && data.resolved_question ? data.resolved_question
      : data.question;
    if (!overviewApi || typeof asked !== "string" || !asked.trim()) return null;
    const topic = asTopic(asked);
    const open = (chosen) => {
      if (!inFlight) ask(`All editorials on: ${chosen}`, {overview: true, topic: chosen, history: []});
    };
    return overviewApi.offer(topic, open, overviewHelpers);
  }

  // ---------- start ----------

  const saved = load();
  setFilters(saved.filters);
  restoreConversation(saved.turns);
  if (turns.length === 0) loadSuggestions();

  const params = new URLSearchParams(location.search);
  const shared = (params.get("q") || "").trim();
  if (shared) {
    // A shared link: ask its question on its own (no history from whatever was asked here before),
    // then drop ?q= from the address so that a reload shows the conversation instead of asking again.
    setFilters({date_from: params.get("from"), date_to: params.get("to")});
    window.history.replaceState(null, "", location.pathname);
    ask(Array.from(shared).slice(0, 1000).join(""), {history: []}); // by code point: never half an emoji
  } else if (turns.length) {
    conversation.lastElementChild.scrollIntoView({block: "start"});
  }
  // Ready to type on a desktop; on a phone, don't pop the keyboard up over the page.
  if (window.matchMedia("(pointer: fine)").matches) box.focus({preventScroll: true});
})();
