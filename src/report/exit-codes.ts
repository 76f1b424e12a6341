/** The exit codes of the contract: what scripts and systemd (SuccessExitStatus=4) rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, locked: 4 } as const;
