/**
 * The production line each piece of equipment is on (the line twin whose `contains` relationship
 * reaches it): flood suppression groups alarms by it and cards name it. Looked up once per
 * equipment; a lookup that fails is not remembered, so the next one tries again.
 */
import type { TwinsPort } from '../ports.ts';

export class EquipmentLines {
  private readonly lines = new Map<string, string | undefined>();

  constructor(private readonly twins: Pick<TwinsPort, 'listIncomingRelationships'>) {}

  /** The line's twin id; undefined when the graph puts the equipment on no line, or cannot be read now. */
  async lineOf(deviceId: string): Promise<string | undefined> {
    if (this.lines.has(deviceId)) return this.lines.get(deviceId);
    let line: string | undefined;
    try {
      const incoming = await this.twins.listIncomingRelationships(deviceId);
      const source = incoming.find((r) => r.$relationshipName === 'contains')?.$sourceId;
      line = typeof source === 'string' ? source : undefined;
    } catch {
      return undefined;
    }
    if (this.lines.size >= 200_000) this.lines.clear();
    this.lines.set(deviceId, line);
    return line;
  }
}
