// shardcron script editor: syntax highlighting and line numbers for the GLUE job types, without
// a library or CDN (the CSP allows only the console's own files). The <textarea> stays the form
// field (the page works without this file); a highlighted <pre> lies behind its transparent text
// and a gutter beside it numbers the lines. Text is inserted with textContent only.
"use strict";

(function () {
  // The end of the whole text ($ would be the end of a line: the rules run with the m flag).
  // One rule list per language: [token class, regex source]; the first rule matching at a
  // position wins. Text no rule matches is plain.
  const C_LIKE_COMMENTS = [["comment", "//[^\\n]*"], ["comment", "/\\*[\\s\\S]*?(?:\\*/|(?![\\s\\S]))"]];
  const QUOTED = [["string", "\"(?:\\\\[\\s\\S]|[^\"\\\\])*\"?"], ["string", "'(?:\\\\[\\s\\S]|[^'\\\\])*'?"]];
  const NUMBER = ["number", "\\b(?:0[xX][0-9a-fA-F]+|\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)\\b"];
  function words(list) { return ["keyword", "\\b(?:" + list.split(" ").join("|") + ")\\b"]; }

  const LANGUAGES = {
    shell: [
      ["meta", "^#![^\\n]*"],
      ["comment", "(?:^|(?<=[\\s;]))#[^\\n]*"],
      ["string", "'[^']*'?"],
      ["string", "\"(?:\\\\[\\s\\S]|[^\"\\\\])*\"?"],
      ["variable", "\\$(?:\\{[^}\\n]*\\}?|[A-Za-z_][A-Za-z0-9_]*|[0-9#?$!@*-])"],
      words("if then else elif fi for while until do done case esac in function return local export readonly set unset shift exit break continue trap source echo printf test"),
      NUMBER,
    ],
    python: [
      ["meta", "^#![^\\n]*"],
      ["comment", "#[^\\n]*"],
      ["string", "[rRbBuUfF]{0,2}\"\"\"[\\s\\S]*?(?:\"\"\"|(?![\\s\\S]))"],
      ["string", "[rRbBuUfF]{0,2}'''[\\s\\S]*?(?:'''|(?![\\s\\S]))"],
      ["string", "[rRbBuUfF]{0,2}\"(?:\\\\[\\s\\S]|[^\"\\\\\\n])*\"?"],
      ["string", "[rRbBuUfF]{0,2}'(?:\\\\[\\s\\S]|[^'\\\\\\n])*'?"],
      ["meta", "^[ \\t]*@[A-Za-z_][\\w.]*"],
      words("False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass print raise return try while with yield self"),
      NUMBER,
    ],
    javascript: C_LIKE_COMMENTS.concat(QUOTED, [
      ["meta", "^#![^\\n]*"],
      ["string", "`(?:\\\\[\\s\\S]|[^`\\\\])*`?"],
      words("async await break case catch class const continue default delete do else export extends false finally for function if import in instanceof let new null of require return static super switch this throw true try typeof undefined var void while yield"),
      NUMBER,
    ]),
    groovy: C_LIKE_COMMENTS.concat([
      ["string", "\"\"\"[\\s\\S]*?(?:\"\"\"|(?![\\s\\S]))"],
      ["string", "'''[\\s\\S]*?(?:'''|(?![\\s\\S]))"],
    ], QUOTED, [
      ["meta", "@[A-Za-z_][\\w.]*"],
      words("abstract as assert boolean break byte case catch char class def default do double else enum extends false final finally float for if implements import in instanceof int interface long new null package private protected public return short static super switch this throw throws true try void while"),
      NUMBER,
    ]),
    php: C_LIKE_COMMENTS.concat(QUOTED, [
      ["meta", "<\\?php|\\?>"],
      ["comment", "#[^\\n]*"],
      ["variable", "\\$[A-Za-z_][A-Za-z0-9_]*"],
      words("abstract and array as break case catch class clone const continue declare default do echo else elseif empty endfor endforeach endif endwhile extends false final finally fn for foreach function global if implements include isset list match namespace new null or print private protected public require require_once return static switch throw true try unset use var while"),
      NUMBER,
    ]),
    powershell: [
      ["comment", "<#[\\s\\S]*?(?:#>|(?![\\s\\S]))"],
      ["comment", "#[^\\n]*"],
      ["string", "\"(?:`[\\s\\S]|[^\"`])*\"?"],
      ["string", "'(?:''|[^'])*'?"],
      ["variable", "\\$(?:\\{[^}\\n]*\\}?|[A-Za-z_][A-Za-z0-9_:]*)"],
      ["keyword", "(?:^|(?<=\\s))-(?:eq|ne|gt|ge|lt|le|like|notlike|match|notmatch|and|or|not|contains|in)\\b"],
      ["keyword", "\\b(?:begin|break|catch|class|continue|data|do|else|elseif|end|exit|filter|finally|for|foreach|function|if|in|param|process|return|switch|throw|trap|try|until|while)\\b"],
      NUMBER,
    ],
  };
  // The job types (GlueType) and the language each is written in; BEAN has no script.
  const GLUE_LANGUAGES = {
    GLUE_SHELL: "shell", GLUE_PYTHON: "python", GLUE_PYTHON2: "python", GLUE_NODEJS: "javascript",
    GLUE_GROOVY: "groovy", GLUE_PHP: "php", GLUE_POWERSHELL: "powershell",
  };
  // PowerShell's keywords are case-insensitive; the others' are not.
  const FLAGS = { powershell: "gmi" };
  const compiled = {};
  function patternOf(language) {
    if (!compiled[language]) {
      const rules = LANGUAGES[language];
      compiled[language] = {
        classes: rules.map(function (rule) { return rule[0]; }),
        regex: new RegExp(rules.map(function (rule) { return "(" + rule[1] + ")"; }).join("|"), FLAGS[language] || "gm"),
      };
    }
    return compiled[language];
  }

  // [[class or "", text], ...] covering the whole text.
  function tokenize(text, language) {
    if (!LANGUAGES[language]) return [["", text]];
    const pattern = patternOf(language);
    const regex = pattern.regex;
    const tokens = [];
    let at = 0, match;
    regex.lastIndex = 0;
    while ((match = regex.exec(text)) !== null) {
      if (match[0] === "") { regex.lastIndex++; continue; }
      if (match.index > at) tokens.push(["", text.slice(at, match.index)]);
      let group = 1;
      while (match[group] === undefined) group++;
      tokens.push([pattern.classes[group - 1], match[0]]);
      at = match.index + match[0].length;
    }
    if (at < text.length) tokens.push(["", text.slice(at)]);
    return tokens;
  }

  function appendToken(parent, cls, text) {
    if (!cls) { parent.appendChild(document.createTextNode(text)); return; }
    const span = document.createElement("span");
    span.className = "tok-" + cls;
    span.textContent = text;
    parent.appendChild(span);
  }

  // The highlighted text as one run of spans (the editor's overlay).
  function renderInto(target, text, language) {
    const fragment = document.createDocumentFragment();
    tokenize(text, language).forEach(function (t) { appendToken(fragment, t[0], t[1]); });
    // A final newline needs a line after it, or the overlay ends a line short of the textarea.
    fragment.appendChild(document.createTextNode("\n "));
    target.replaceChildren(fragment);
  }

  // The highlighted text as one <span class="line"> per line (read-only views number them in CSS).
  function renderLines(target, text, language) {
    const fragment = document.createDocumentFragment();
    let line = document.createElement("span");
    line.className = "line";
    tokenize(text.replace(/\n$/, ""), language).forEach(function (t) {
      const parts = t[1].split("\n");
      parts.forEach(function (part, i) {
        if (i > 0) {
          fragment.appendChild(line);
          fragment.appendChild(document.createTextNode("\n"));
          line = document.createElement("span");
          line.className = "line";
        }
        if (part) appendToken(line, t[0], part);
      });
    });
    fragment.appendChild(line);
    target.replaceChildren(fragment);
  }

  function languageOf(glueType) { return GLUE_LANGUAGES[glueType] || ""; }
  function lineCount(text) { return text.split("\n").length; }

  const INDENT = "    ";

  function wireEditor(box) {
    const area = box.querySelector("textarea");
    if (!area || box.dataset.wired) return;
    box.dataset.wired = "1";
    const typeField = document.getElementById(box.dataset.languageFrom || "");
    const gutter = document.createElement("pre");
    gutter.className = "code-gutter";
    gutter.setAttribute("aria-hidden", "true");
    const overlay = document.createElement("pre");
    overlay.className = "code-highlight";
    overlay.setAttribute("aria-hidden", "true");
    const stack = document.createElement("div");
    stack.className = "code-stack";
    area.parentNode.insertBefore(stack, area);
    stack.appendChild(overlay);
    stack.appendChild(area);
    box.insertBefore(gutter, stack);
    box.classList.add("code-editor-live");
    area.setAttribute("spellcheck", "false");
    area.setAttribute("wrap", "off");

    let shownLines = 0;
    function render() {
      const language = languageOf(typeField ? typeField.value : "");
      box.dataset.language = language || "plain";
      renderInto(overlay, area.value, language);
      const lines = lineCount(area.value);
      if (lines !== shownLines) {
        const numbers = [];
        for (let n = 1; n <= lines; n++) numbers.push(String(n));
        gutter.textContent = numbers.join("\n") + "\n ";
        shownLines = lines;
      }
      follow();
    }
    function follow() {
      overlay.scrollTop = area.scrollTop;
      overlay.scrollLeft = area.scrollLeft;
      gutter.scrollTop = area.scrollTop;
    }

    // Tab indents (Shift+Tab takes an indent off the line); after Esc, Tab moves on as usual so
    // a keyboard user can always leave the field.
    let tabLeaves = false;
    area.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { tabLeaves = true; return; }
      if (event.key !== "Tab" || tabLeaves || area.readOnly || event.ctrlKey || event.altKey || event.metaKey) {
        if (event.key !== "Tab" && event.key !== "Shift") tabLeaves = false;
        return;
      }
      event.preventDefault();
      if (event.shiftKey) { outdent(); return; }
      insert(INDENT);
    });
    area.addEventListener("blur", function () { tabLeaves = false; });

    function insert(text) {
      area.focus();
      // execCommand keeps the browser's undo history; setRangeText where it is gone.
      if (!(document.execCommand && document.execCommand("insertText", false, text))) {
        area.setRangeText(text, area.selectionStart, area.selectionEnd, "end");
        area.dispatchEvent(new Event("input", { bubbles: true }));
      }
    }
    function outdent() {
      const value = area.value, caret = area.selectionStart;
      const lineStart = value.lastIndexOf("\n", caret - 1) + 1;
      let n = 0;
      while (n < INDENT.length && value[lineStart + n] === " ") n++;
      if (!n) return;
      area.setSelectionRange(lineStart, lineStart + n);
      if (!(document.execCommand && document.execCommand("delete"))) {
        area.setRangeText("", lineStart, lineStart + n, "start");
        area.dispatchEvent(new Event("input", { bubbles: true }));
      }
      const back = Math.max(lineStart, caret - n);
      area.setSelectionRange(back, back);
    }

    area.addEventListener("input", render);
    area.addEventListener("scroll", follow);
    if (typeField) typeField.addEventListener("change", render);
    render();
  }

  // <pre data-code-view data-glue-type="GLUE_SHELL">: a read-only script, highlighted by line.
  function wireView(pre) {
    if (pre.dataset.wired) return;
    pre.dataset.wired = "1";
    const language = languageOf(pre.dataset.glueType);
    pre.dataset.language = language || "plain";
    renderLines(pre, pre.textContent, language);
  }

  // For tests and the console: the tokenizer by job type.
  window.shardcronHighlight = { tokenize: function (text, glueType) { return tokenize(text, languageOf(glueType)); } };

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-code-editor]").forEach(wireEditor);
    document.querySelectorAll("pre[data-code-view]").forEach(wireView);
  });
})();
