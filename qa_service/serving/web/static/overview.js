// The overview of a topic on the chat page: "What has the paper said about X?" lists the editorials
// that discuss X (POST /api/overview), one row each: date, title, the sentence that states its
// position, and ¶ links into the article. chat.js asks for it and shows what `render` returns.
// Server text is only ever inserted as text, never as HTML.
"use strict";

window.QAOverview = (() => {
  // A question about the paper's editorials as a whole, not one editorial: "What has the paper said
  // about X?", "How did the editorials view X?", "Editorials on X", "What's the paper's view of X?",
  // "What have the columnists said about X?", "How was X covered?". The server takes the same frames
  // off the topic (topic_frame.py); "the writer" or "the editorial" (one) stays a question.
  const WRITER = String.raw`(?:the\s+)?(?:paper|newspaper|editorials|editors|editorial\s+board|columnists|writers|`
    + String.raw`opinion\s+(?:pages|pieces|writers))(?:'s|’s)?`;
  const ABOUT = new RegExp(String.raw`^\s*(?:tell\s+me\s+)?(?:what|how|where|has|have|did|does|do)\b[^?]*?\b${WRITER}\s+`
    + String.raw`(?:\w+\s+){0,3}?(?:about|of|on|regarding|towards?|to|view|judge|cover(?:ed)?|see|saw|treat(?:ed)?|`
    + String.raw`portray(?:ed)?|think|thought|feel|felt|stand|stood)\b\s*\S`, "i");
  const LIST = /^\s*(?:(?:show|give|list|find|summari[sz]e)(?:\s+me)?\s+)?(?:any\s+|all\s+)?(?:the\s+)?(?:editorials|overview|opinion\s+pieces)\s+(?:on|about|of|regarding)\s+\S/i;
  const WRITTEN = /^\s*what\s+(?:has|have)\s+been\s+(?:written|said)\s+(?:about|on)\s+\S/i;
  const PASSIVE = /^\s*how\s+(?:was|were|has|have)\s+(?!(?:it|this|that|they|them|he|she|these|those)\b)\S.*?\s+(?:been\s+)?(?:covered|viewed|treated|portrayed)(?:\s+(?:in|by)\s+(?:the\s+)?(?:paper|newspaper|editorials))?\s*[?.!]*\s*$/i;

  function isOverviewQuestion(text) {
    return typeof text === "string" && [ABOUT, LIST, WRITTEN, PASSIVE].some((frame) => frame.test(text));
  }

  function isOverview(data) {
    return Boolean(data) && typeof data === "object" && Array.isArray(data.editorials);
  }

  function cleanEditorials(data) {
    return data.editorials.filter((e) => e && typeof e.article_id === "string" && e.sentence
      && typeof e.sentence.text === "string" && Array.isArray(e.paragraphs));
  }

  function paragraphHref(articleId, paragraph) {
    return `/articles/${encodeURIComponent(articleId)}#p${encodeURIComponent(paragraph)}`;
  }

  function row(e, {el, dateNode, foldIfLong}) {
    const title = e.title || e.article_id;
    const item = el("li", "overview-item");
    const head = el("div", "overview-head");
    const link = el("a", "overview-title", title);
    link.href = paragraphHref(e.article_id, e.sentence.paragraph);
    head.append(dateNode(e.date), " ", link);
    const sentence = el("blockquote", "quote overview-sentence", e.sentence.text);
    const where = el("p", "overview-paragraphs");
    where.append(el("span", "overview-paragraphs-label", "On this topic: "));
    const numbers = Array.from(new Set([...e.paragraphs, e.sentence.paragraph]))
      .filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b);
    numbers.forEach((n, i) => {
      const to = el("a", "overview-paragraph", `¶${n}`);
      to.href = paragraphHref(e.article_id, n);
      to.setAttribute("aria-label", `${title}, paragraph ${n}`);
      if (i) where.append(" ");
      where.append(to);
    });
    const more = foldIfLong(sentence, e.sentence.text, "sentence");
    item.append(head, sentence, ...(more ? [more] : []));
    const second = e.second_sentence;
    if (second && typeof second.text === "string" && Number.isInteger(second.paragraph)) {
      // The scorer was unsure of the first sentence: the next one it would have chosen, with its paragraph.
      const also = el("blockquote", "quote overview-sentence overview-second", second.text);
      const label = el("p", "overview-second-label");
      const to = el("a", "overview-paragraph", `¶${second.paragraph}`);
      to.href = paragraphHref(e.article_id, second.paragraph);
      to.setAttribute("aria-label", `${title}, paragraph ${second.paragraph}`);
      label.append("Also, in ", to, ":");
      const alsoMore = foldIfLong(also, second.text, "sentence");
      item.append(label, also, ...(alsoMore ? [alsoMore] : []));
    }
    item.append(where);
    return item;
  }

  // How the rows are ordered (the API's `order`): by date only when every row has one.
  const ORDER_WORDS = {"date": "by date", "relevance": "most relevant first",
    "date, then relevance": "dated ones by date, then the undated most relevant first"};

  function heading(data, shown) {
    const total = Number.isInteger(data.total) ? data.total : shown;
    if (shown === 0) return "No editorial discusses this topic.";
    const what = `${total} editorial${total === 1 ? "" : "s"} on this topic`;
    const order = ORDER_WORDS[data.order] || ORDER_WORDS.relevance;
    return total > shown ? `${what}; the ${shown} closest, ${order}` : `${what}, ${order}`;
  }

  // The reply for an overview: helpers are chat.js's own (el, dateNode, describeFilters, foldIfLong).
  function render(data, chosen, helpers) {
    const {el} = helpers;
    const editorials = cleanEditorials(data);
    const reply = el("div", "reply overview");
    reply.append(el("p", "answer overview-summary", heading(data, editorials.length)));
    if (!editorials.length) {
      const range = helpers.describeFilters(chosen || {});
      reply.append(el("p", "hint", range ? "None in the chosen date range. Try a wider range."
        : "Try other words for it, or ask a question instead."));
      return reply;
    }
    const list = el("ol", "overview-list");
    list.setAttribute("aria-label", "Editorials on this topic");
    for (const e of editorials) list.append(row(e, helpers));
    reply.append(list);
    return reply;
  }

  function summary(data) {
    return heading(data, cleanEditorials(data).length);
  }

  // The button under an ordinary answer that opens the overview of its topic.
  function offer(topic, open, {el}) {
    const button = el("button", "pill-button overview-offer", "All editorials on this");
    button.type = "button";
    button.setAttribute("aria-label", `All editorials on this: ${topic}`);
    button.addEventListener("click", () => open(topic));
    return button;
  }

  return {isOverviewQuestion, isOverview, render, summary, offer};
})();
