;;; missions-e2e.el --- missions lsp in Emacs with eglot, end to end  -*- lexical-binding: t -*-

;; Run by tests/emacs/run.sh in `emacs --batch': the README's Emacs setup (extracted from the
;; README into $MISSIONS_E2E_SETUP), eglot, and a workspace laid out by run.sh:
;; $MISSIONS_E2E_WS/notes (a plan in droid's format with one unknown and one unclaimed
;; assertion) and $MISSIONS_E2E_WS/calc (a repository whose mission is planned and waits for
;; approval; missions.toml points every role at the fake model on 127.0.0.1).
;;
;; Batch Emacs has no command loop and reads no input events: where a person's keystroke
;; would end a command, the tests run `post-command-hook' (eglot-ensure connects there) and
;; start flymake as its first command would; while they wait, the idle timers run as in an
;; idle Emacs (eglot sends buffer changes from one); and auto-revert polls the files (file
;; notifications are input events, which batch Emacs never reads).

(require 'ert)
(require 'cl-lib)
(require 'subr-x)

(defvar missions-e2e-ws (getenv "MISSIONS_E2E_WS"))
;; auto-revert polls every 5 s; a test need not wait that long.
(setq auto-revert-interval 1
      auto-revert-use-notify nil)
(load (getenv "MISSIONS_E2E_SETUP") nil t)
(require 'eglot)
(require 'xref)

(defun missions-e2e-idle ()
  "Run the idle timers, as Emacs does when a person stops typing."
  (dolist (timer (copy-sequence timer-idle-list))
    (when (memq timer timer-idle-list)
      (timer-event-handler timer))))

(defun missions-e2e-wait (what predicate &optional seconds)
  "Wait for PREDICATE, up to SECONDS (20), letting processes and timers run."
  (let ((deadline (+ (float-time) (or seconds 20))))
    (while (and (not (funcall predicate)) (< (float-time) deadline))
      (missions-e2e-idle)
      (accept-process-output nil 0.1))
    (or (funcall predicate)
        (ert-fail (format "%s: not within %s s (buffer %s)" what (or seconds 20) (buffer-name))))))

(defun missions-e2e-visit (relative)
  "Visit RELATIVE under the workspace as a person would, eglot connected, flymake started."
  (let ((buffer (find-file-noselect (expand-file-name relative missions-e2e-ws))))
    (switch-to-buffer buffer)
    (run-hooks 'post-command-hook)
    (missions-e2e-wait "eglot to manage the buffer" (lambda () (bound-and-true-p eglot--managed-mode)) 30)
    (flymake-start)
    buffer))

(defun missions-e2e-goto (text &optional into)
  "Put point INTO (default 3) characters inside the first TEXT of the buffer."
  (goto-char (point-min))
  (search-forward text)
  (goto-char (+ (match-beginning 0) (or into 3))))

(defun missions-e2e-diagnostics ()
  (mapcar #'flymake-diagnostic-text (flymake-diagnostics)))

(ert-deftest missions-e2e-1-the-readme-setup-gives-mission-files-to-missions-lsp ()
  (with-current-buffer (missions-e2e-visit "notes/features.json")
    (should (eq major-mode 'missions-json-mode))
    (should (bound-and-true-p auto-revert-mode))
    (should (equal (process-command (jsonrpc--process (eglot-current-server))) '("missions" "lsp")))))

(ert-deftest missions-e2e-2-diagnostics-in-flymake ()
  (with-current-buffer (missions-e2e-visit "notes/features.json")
    (missions-e2e-wait "the unknown assertion's error"
                       (lambda () (cl-some (lambda (d) (string-match-p "VAL-NOTES-009. is not an assertion" d)) (missions-e2e-diagnostics))))
    (let ((diagnostic (car (flymake-diagnostics))))
      (should (eq (flymake-diagnostic-type diagnostic) 'eglot-error))
      (missions-e2e-goto "\"VAL-NOTES-009\"" 0)
      (should (= (flymake-diagnostic-beg diagnostic) (point)))))
  (with-current-buffer (missions-e2e-visit "notes/validation-contract.md")
    (missions-e2e-wait "the unclaimed warning"
                       (lambda () (cl-some (lambda (d) (string-match-p "VAL-NOTES-003. is not claimed" d)) (missions-e2e-diagnostics))))))

(ert-deftest missions-e2e-3-hover-through-eldoc ()
  (with-current-buffer (missions-e2e-visit "notes/features.json")
    (missions-e2e-goto "VAL-NOTES-001" 5)
    (let (shown)
      (eglot-hover-eldoc-function (lambda (info &rest _) (setq shown info)))
      (missions-e2e-wait "the hover" (lambda () shown))
      (should (string-match-p "VAL-NOTES-001.*Adding a note" shown)))))

(ert-deftest missions-e2e-4-definition-with-xref ()
  (with-current-buffer (missions-e2e-visit "notes/features.json")
    (missions-e2e-goto "VAL-NOTES-002" 9)
    (call-interactively #'xref-find-definitions)
    (should (string-suffix-p "notes/validation-contract.md" (buffer-file-name)))
    (should (looking-at-p "VAL-NOTES-002"))
    (should (string-prefix-p "### VAL-NOTES-002: Listing notes" (thing-at-point 'line t)))))

(ert-deftest missions-e2e-5-a-code-action-claims-the-unclaimed-assertion ()
  (with-current-buffer (missions-e2e-visit "notes/validation-contract.md")
    (missions-e2e-goto "VAL-NOTES-003" 4)
    (let (offered)
      ;; The person picks "Claim in feature …" from eglot's menu.
      (cl-letf (((symbol-function 'completing-read)
                 (lambda (_prompt items &rest _)
                   (setq offered (mapcar #'car items))
                   (seq-find (lambda (title) (string-prefix-p "Claim in feature" title)) offered)))
                (last-nonmenu-event ?\r))
        (call-interactively #'eglot-code-actions))
      (should (seq-find (lambda (title) (string-prefix-p "Claim in feature" title)) offered)))
    (missions-e2e-wait "the unclaimed warning to go"
                       (lambda () (not (cl-some (lambda (d) (string-match-p "VAL-NOTES-003" d)) (missions-e2e-diagnostics))))))
  (with-current-buffer (get-file-buffer (expand-file-name "notes/features.json" missions-e2e-ws))
    (should (buffer-modified-p))
    (should (string-match-p "\"VAL-NOTES-001\",?[ \t\n]*\"VAL-NOTES-003\"" (buffer-string)))))

(ert-deftest missions-e2e-6-a-clean-buffer-follows-a-run ()
  ;; The calculator's plan waits for approval; its features.json is open, every feature pending.
  (let ((features (missions-e2e-visit "calc/.missions/calc/features.json")))
    (with-current-buffer features
      (should (string-match-p "\"status\": \"pending\"" (buffer-string)))
      (should-not (string-match-p "\"status\": \"completed\"" (buffer-string)))
      (let ((messages-before (with-current-buffer (messages-buffer) (buffer-size))))
        (missions-start)
        ;; The run writes features.json as features complete: the buffer, with no unsaved
        ;; edits, follows the disk without a prompt.
        (missions-e2e-wait "every feature completed in the buffer"
                           (lambda () (and (string-match-p "\"status\": \"completed\"" (buffer-string))
                                           (not (string-match-p "\"status\": \"pending\"" (buffer-string)))))
                           60)
        (should-not (buffer-modified-p))
        ;; The end of the run is shown (window/showMessage) in *Messages*.
        (missions-e2e-wait "the completion message"
                           (lambda () (with-current-buffer (messages-buffer)
                                        (save-excursion
                                          (goto-char (1+ messages-before))
                                          (re-search-forward "mission mis_[0-9a-f]+ completed: every assertion passed" nil t))))
                           60)))))

;;; missions-e2e.el ends here
