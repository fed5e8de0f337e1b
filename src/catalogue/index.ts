/**
 * The event catalogue: event type versions and their documentation on a compacted Kafka topic.
 * `import … from 'multidispatch/catalogue'`.
 */
export { entriesFromProtos, bundleOf, versionKey, DEFAULT_CATALOGUE_TOPIC, CATALOGUE_FORMAT, type CatalogueEntry, type CatalogueField } from './entry.js';
export { checkEvolution, packageRenames, EVOLUTION_RULES, type EvolutionRule } from './evolution.js';
export {
  readCatalogue, latestEntries, versionsOf, pushCatalogue, backupCatalogue, restoreCatalogue, readBackup, catalogueSchema, mergeEntries, ensureCatalogueTopic,
  type Catalogue, type PushOptions, type PushResult, type CatalogueBackup, type RestoreResult,
} from './store.js';
export { LiveCatalogue, type LiveCatalogueOptions } from './live.js';
export { renderDictionary, type DictionaryInput } from './html.js';
