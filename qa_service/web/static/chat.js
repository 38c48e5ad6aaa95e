// The chat page. Every piece of server text is inserted with textContent, never as HTML.
"use strict";

const form = document.getElementById("ask-form");
const box = document.getElementById("question");
const sendButton = document.getElementById("send");
const conversation = document.getElementById("conversation");
const emptyState = document.getElementById("empty-state");
const history = [];
const HISTORY_TURNS = 4;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function citationLabel(c) {
  return `${c.title}${c.date ? ", " + c.date : ""}, ¶${c.paragraph}`;
}

function citationLink(c, n) {
  const link = el("a", "", `[${n}] ${citationLabel(c)}`);
  link.href = `/articles/${encodeURIComponent(c.article_id)}#p${c.paragraph}`;
  link.target = "_blank";
  link.rel = "noopener";
  return link;
}

function passageText(text, answer, rank) {
  const quote = el("blockquote");
  if (answer && answer.passage === rank) {
    quote.append(document.createTextNode(text.slice(0, answer.start)));
    quote.append(el("mark", "", text.slice(answer.start, answer.end)));
    quote.append(document.createTextNode(text.slice(answer.end)));
  } else {
    quote.textContent = text;
  }
  return quote;
}

function renderReply(reply, data) {
  reply.replaceChildren();
  if (data.answer) {
    const answer = el("p", "answer");
    answer.append(el("mark", "", data.answer.text), document.createTextNode(" "));
    const source = data.passages[data.answer.passage - 1];
    if (source) answer.append(citationLink(source.citation, data.answer.passage));
    reply.append(answer);
  } else {
    reply.append(el("p", "notice", "I couldn't find this in the editorials."));
    if (data.passages.length) reply.append(el("p", "cite", "The nearest passages, weak matches:"));
  }
  const list = el("ol", "passages");
  for (const p of data.passages) {
    const item = el("li", data.answer ? "passage" : "passage weak");
    const cite = el("div", "cite");
    cite.append(citationLink(p.citation, p.rank), el("span", "score", `score ${p.score.toFixed(3)}`));
    item.append(cite, passageText(p.text, data.answer, p.rank));
    list.append(item);
  }
  reply.append(list);
}

async function ask(question) {
  emptyState.hidden = true;
  const turn = el("div", "turn");
  turn.append(el("div", "bubble-user", question));
  const reply = el("div", "reply");
  reply.append(el("p", "waiting", "Searching the editorials"));
  turn.append(reply);
  conversation.append(turn);
  turn.scrollIntoView({block: "end"});
  sendButton.disabled = true;
  try {
    const response = await fetch("/api/ask", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({question, history: history.slice(-HISTORY_TURNS)}),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok || !data || data.error) {
      const message = data && data.error ? data.error.message : `the server answered ${response.status}`;
      reply.replaceChildren(el("p", "error", `Sorry, something went wrong: ${message}`));
      return;
    }
    renderReply(reply, data);
    history.push({question, answer: data.answer ? data.answer.text : ""});
  } catch (err) {
    reply.replaceChildren(el("p", "error", "Sorry, the service could not be reached. Please try again."));
  } finally {
    sendButton.disabled = false;
    box.focus();
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = box.value.trim();
  if (!question || sendButton.disabled) return;
  box.value = "";
  ask(question);
});

box.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});

document.getElementById("new-chat").addEventListener("click", () => {
  history.length = 0;
  conversation.replaceChildren(emptyState);
  emptyState.hidden = false;
  box.focus();
});
