/** Defaults several commands share, in a module that loads nothing else (commands load lazily). */
export const DEFAULT_DB = "etw-atlas.db";
