import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';

/**
 * The schema fingerprint of an event type: the first 16 hex digits of the SHA-256 of a canonical form of the type
 * and of every message and enum it reaches (field numbers, names, resolved types, labels, oneofs, map key types,
 * packed and json_name options, reserved ranges and names, enum values). Comments and custom options are left out,
 * so a documentation change keeps the fingerprint; any change of shape, nested types included, gives a new one.
 * Every record carries it in the `md-schema-fingerprint` header, and the catalogue keys versions by it.
 */
export function schemaFingerprint(type: protobuf.Type): string {
  const forms = new Map<string, unknown>();
  const visit = (t: protobuf.Type | protobuf.Enum): void => {
    if (forms.has(t.fullName)) return;
    if (t instanceof protobuf.Enum) {
      forms.set(t.fullName, { values: Object.entries(t.values), reserved: t.reserved ?? [] });
      return;
    }
    forms.set(t.fullName, null); // a recursive type reaches itself
    const fields = t.fieldsArray
      .slice()
      .sort((a, b) => a.id - b.id)
      .map((f) => {
        f.resolve();
        return {
          id: f.id,
          name: f.name,
          type: f.resolvedType ? f.resolvedType.fullName : f.type,
          label: f.map ? 'map' : f.repeated ? 'repeated' : f.partOf ? `oneof ${f.partOf.name}` : 'singular',
          keyType: f.map ? (f as unknown as protobuf.MapField).keyType : undefined,
          packed: f.options?.packed,
          jsonName: f.options?.json_name,
        };
      });
    forms.set(t.fullName, { fields, reserved: t.reserved ?? [] });
    for (const f of t.fieldsArray) if (f.resolvedType) visit(f.resolvedType);
  };
  visit(type);
  const canonical = JSON.stringify([...forms].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
