/**
 * The secured suite broker (SASL_SSL, SCRAM-SHA-512, ACLs enforced) that scripts/test.mjs starts with
 * `startKafka({ secure })`, the same code as `multidispatch dev up --secure`. Users: admin (super user), publisher,
 * loader, deriver, tailer, nobody; each has `<dataDir>/secure/<user>.properties` for --kafka-config.
 */
import kafkajs, { Kafka, logLevel, type Admin } from 'kafkajs';
import { adminAuth } from '../../src/dev/kafka.js';
import { readState } from '../../src/dev/kafka-config.js';
import { readSecureMaterial, type SecureMaterial } from '../../src/dev/secure.js';

// kafkajs is CommonJS: its ACL enums are not visible as named ESM exports.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

export interface SecureBroker {
  brokers: string;
  material: SecureMaterial;
  /** user → client properties file. */
  properties: Record<string, string>;
  caFile: string;
  passwords: string[];
}

export function secureBroker(): SecureBroker {
  const dir = process.env.MULTIDISPATCH_TEST_SECURE_KAFKA_DIR;
  if (!dir) throw new Error('MULTIDISPATCH_TEST_SECURE_KAFKA_DIR is not set: run the security tests with `npm test` (it starts the secured broker)');
  const state = readState(dir);
  const material = readSecureMaterial(dir);
  if (!state?.secure || !material) throw new Error(`no secured broker recorded in ${dir}`);
  return { brokers: state.brokers, material, properties: state.secure.clientProperties, caFile: state.secure.caFile, passwords: Object.values(material.users) };
}

/** A kafkajs client as the super user. */
export function adminKafka(b: SecureBroker = secureBroker()): Kafka {
  return new Kafka({ clientId: 'multidispatch-test-admin', brokers: [b.brokers], logLevel: logLevel.NOTHING, ...adminAuth(b.material) });
}

export type Grant =
  | { topic: string; ops: Array<keyof typeof AclOperationTypes>; prefixed?: boolean }
  | { group: string; ops: Array<keyof typeof AclOperationTypes>; prefixed?: boolean }
  | { transactionalId: string; ops: Array<keyof typeof AclOperationTypes>; prefixed?: boolean };

/** Grants ACLs to `User:<user>` and waits until the broker lists them. */
export async function grant(admin: Admin, user: string, grants: readonly Grant[]): Promise<void> {
  const acl = grants.flatMap((g) => {
    const [resourceType, resourceName] = 'topic' in g ? [AclResourceTypes.TOPIC, g.topic] : 'group' in g ? [AclResourceTypes.GROUP, g.group] : [AclResourceTypes.TRANSACTIONAL_ID, g.transactionalId];
    return g.ops.map((op) => ({
      resourceType, resourceName, resourcePatternType: g.prefixed ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
      principal: `User:${user}`, host: '*', operation: AclOperationTypes[op], permissionType: AclPermissionTypes.ALLOW,
    }));
  });
  await admin.createAcls({ acl });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = await admin.describeAcls({ resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, principal: `User:${user}`,
      host: '*', operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY });
    const n = found.resources.reduce((s, r) => s + r.acls.length, 0);
    if (n >= acl.length) return;
    if (Date.now() > deadline) throw new Error(`ACLs for ${user} did not show up (${n} of ${acl.length})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
