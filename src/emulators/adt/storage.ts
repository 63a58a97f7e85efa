/**
 * Durable storage for the emulator: one SQLite file (better-sqlite3, WAL), or memory for tests.
 * It holds documents only; the graph keeps the live, indexed copy and writes through here, so a
 * restart loads exactly what was acknowledged.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export interface StoredModel {
  id: string;
  document: Record<string, unknown>;
  uploadTime: string;
  decommissioned: boolean;
}

export interface StoredRelationship {
  sourceId: string;
  id: string;
  doc: Record<string, unknown>;
}

export class AdtStorage {
  private readonly db: Database.Database;
  private readonly stmts;

  /** `file` of ':memory:' keeps nothing after close. */
  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS models (id TEXT PRIMARY KEY, document TEXT NOT NULL, upload_time TEXT NOT NULL, decommissioned INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS twins (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS relationships (source_id TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (source_id, id));
    `);
    this.stmts = {
      putModel: this.db.prepare('INSERT OR REPLACE INTO models (id, document, upload_time, decommissioned) VALUES (?, ?, ?, ?)'),
      deleteModel: this.db.prepare('DELETE FROM models WHERE id = ?'),
      putTwin: this.db.prepare('INSERT OR REPLACE INTO twins (id, doc) VALUES (?, ?)'),
      deleteTwin: this.db.prepare('DELETE FROM twins WHERE id = ?'),
      putRel: this.db.prepare('INSERT OR REPLACE INTO relationships (source_id, id, doc) VALUES (?, ?, ?)'),
      deleteRel: this.db.prepare('DELETE FROM relationships WHERE source_id = ? AND id = ?'),
    };
  }

  load(): { models: StoredModel[]; twins: Record<string, unknown>[]; relationships: StoredRelationship[] } {
    const models = (this.db.prepare('SELECT id, document, upload_time, decommissioned FROM models ORDER BY rowid').all() as { id: string; document: string; upload_time: string; decommissioned: number }[]).map((r) => ({
      id: r.id,
      document: JSON.parse(r.document) as Record<string, unknown>,
      uploadTime: r.upload_time,
      decommissioned: r.decommissioned === 1,
    }));
    const twins = (this.db.prepare('SELECT doc FROM twins ORDER BY rowid').all() as { doc: string }[]).map((r) => JSON.parse(r.doc) as Record<string, unknown>);
    const relationships = (this.db.prepare('SELECT source_id, id, doc FROM relationships ORDER BY rowid').all() as { source_id: string; id: string; doc: string }[]).map((r) => ({
      sourceId: r.source_id,
      id: r.id,
      doc: JSON.parse(r.doc) as Record<string, unknown>,
    }));
    return { models, twins, relationships };
  }

  /** Runs `work` in one transaction: all of its writes land, or none. */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  putModel(m: StoredModel): void {
    this.stmts.putModel.run(m.id, JSON.stringify(m.document), m.uploadTime, m.decommissioned ? 1 : 0);
  }
  deleteModel(id: string): void {
    this.stmts.deleteModel.run(id);
  }
  putTwin(id: string, doc: Record<string, unknown>): void {
    this.stmts.putTwin.run(id, JSON.stringify(doc));
  }
  deleteTwin(id: string): void {
    this.stmts.deleteTwin.run(id);
  }
  putRelationship(sourceId: string, id: string, doc: Record<string, unknown>): void {
    this.stmts.putRel.run(sourceId, id, JSON.stringify(doc));
  }
  deleteRelationship(sourceId: string, id: string): void {
    this.stmts.deleteRel.run(sourceId, id);
  }

  close(): void {
    this.db.close();
  }
}
