/** Plain data read from a WEVT_TEMPLATE ("CRIM") blob. Offsets are relative to the CRIM start. */

import type { BinXmlElement } from "./binxml.js";

/** MessageId value meaning "no message". */
export const NO_MESSAGE = 0xffffffff;

export interface WevtChannel {
  offset: number;
  /** 1 = imported channel (e.g. "System" from winmeta). */
  flags: number;
  name: string;
  /** The number events carry in EVENT_DESCRIPTOR.Channel. */
  value: number;
  messageId: number;
}

export interface WevtLevel {
  offset: number;
  value: number;
  messageId: number;
  name: string;
}

export interface WevtTask {
  offset: number;
  value: number;
  messageId: number;
  /** Task eventGUID attribute; all-zero GUID when absent. */
  eventGuid: string;
  name: string;
}

export interface WevtOpcode {
  offset: number;
  /** Task the opcode is scoped to (0 = provider-wide). */
  task: number;
  value: number;
  messageId: number;
  name: string;
}

export interface WevtKeyword {
  offset: number;
  mask: bigint;
  messageId: number;
  name: string;
}

export interface WevtMapEntry {
  value: number;
  messageId: number;
}

export interface WevtMap {
  offset: number;
  kind: "value" | "bitmap";
  name: string;
  entries: WevtMapEntry[];
}

/** PropertyEntry flags. */
export const PROP_STRUCT = 0x1;
export const PROP_FIXED_LENGTH = 0x2;
export const PROP_VAR_LENGTH = 0x4;
export const PROP_FIXED_COUNT = 0x8;
export const PROP_VAR_COUNT = 0x10;

export interface WevtProperty {
  /** Index in the template's property array. */
  index: number;
  flags: number;
  name: string;
  /** TDH in/out type numbers (non-struct properties). */
  inType?: number;
  outType?: number;
  /** CRIM offset of the VMAP/BMAP, and its name when it resolves. */
  mapOffset?: number;
  map?: string;
  /** Fixed count, or the name of the property holding the count. */
  count?: number | string;
  /** Fixed length, or the name of the property holding the length. */
  length?: number | string;
  /** Struct members (struct properties). */
  members?: WevtProperty[];
}

export interface WevtTemplate {
  offset: number;
  /** Template id GUID (the join key with EVTX template definitions). */
  guid: string;
  /** 1 = EventData template, 2 = UserData template. */
  flags: number;
  /** Number of substitution values (top-level properties). */
  paramCount: number;
  /** Top-level properties, struct members nested under their struct. */
  properties: WevtProperty[];
  /** The BinXML body: the EventData / UserData element. */
  xml?: BinXmlElement;
}

/**
 * The fields of an EVENT_DESCRIPTOR other than its keyword mask (which each user keeps in its own
 * form): what identifies a manifest event in WEVT_TEMPLATE and at a write site alike.
 */
export interface EventDescriptorFields {
  id: number;
  version: number;
  channel: number;
  level: number;
  opcode: number;
  task: number;
}

export interface WevtEvent extends EventDescriptorFields {
  /** CRIM offset of the 48-byte event entry. */
  offset: number;
  keywords: bigint;
  messageId: number;
  /** CRIM offsets of referenced entries (0 = none). */
  templateOffset: number;
  opcodeOffset: number;
  levelOffset: number;
  taskOffset: number;
  keywordOffsets: number[];
  channelOffset: number;
}

export interface WevtAttribute {
  /** PRVA attribute id; 0x10000001 = provider name. */
  id: number;
  value: string;
}

/** One (type, offset) entry of a provider's element list. */
export interface WevtElementRef {
  type: number;
  offset: number;
  /** The 4CC found at `offset`. */
  magic: string;
}

export interface WevtProvider {
  guid: string;
  /** CRIM offset of the "WEVT" block. */
  offset: number;
  messageId: number;
  elements: WevtElementRef[];
  channels: WevtChannel[];
  levels: WevtLevel[];
  tasks: WevtTask[];
  opcodes: WevtOpcode[];
  keywords: WevtKeyword[];
  maps: WevtMap[];
  templates: WevtTemplate[];
  events: WevtEvent[];
  attributes: WevtAttribute[];
  /** Provider name from PRVA attribute 0x10000001, when present. */
  name?: string;
  /** 4CCs of element tables this parser does not decode (QTAB, FLTR, ...). */
  skipped: string[];
}

export interface WevtManifest {
  size: number;
  majorVersion: number;
  minorVersion: number;
  providers: WevtProvider[];
}

/** PRVA attribute id carrying the provider name. */
export const PRVA_PROVIDER_NAME = 0x10000001;
