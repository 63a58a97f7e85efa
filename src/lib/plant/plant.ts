/**
 * The plant the local stack and a fresh Azure deployment start with: a factory, its lines and
 * their equipment, each piece of equipment a twin and a device identity of the same id. Also a
 * fleet-sized plant for benchmarks.
 */
export type EquipmentKind = 'RoboticArm' | 'Conveyor' | 'QualityStation';

export interface PlantEquipment {
  id: string;
  kind: EquipmentKind;
  line: string;
  position: number;
}

export interface PlantDescription {
  factory: { id: string; name: string; location: string; timeZone: string };
  lines: { id: string; name: string; product: string; targetUnitsPerHour: number }[];
  equipment: PlantEquipment[];
}

export const modelOf = (kind: EquipmentKind | 'Factory' | 'ProductionLine') => `dtmi:manufacturing:${kind};1`;

/** The recipe's robotic arm and conveyor, plus the rest of two lines. */
export const DEFAULT_PLANT: PlantDescription = {
  factory: { id: 'factory-01', name: 'Contoso Plant 01', location: 'Redmond, WA', timeZone: 'America/Los_Angeles' },
  lines: [
    { id: 'production-line-a', name: 'Assembly line A', product: 'gearbox', targetUnitsPerHour: 120 },
    { id: 'production-line-b', name: 'Packaging line B', product: 'gearbox', targetUnitsPerHour: 150 },
  ],
  equipment: [
    { id: 'robotic-arm-001', kind: 'RoboticArm', line: 'production-line-a', position: 1 },
    { id: 'conveyor-001', kind: 'Conveyor', line: 'production-line-a', position: 2 },
    { id: 'robotic-arm-002', kind: 'RoboticArm', line: 'production-line-a', position: 3 },
    { id: 'quality-station-001', kind: 'QualityStation', line: 'production-line-a', position: 4 },
    { id: 'conveyor-002', kind: 'Conveyor', line: 'production-line-b', position: 1 },
    { id: 'robotic-arm-003', kind: 'RoboticArm', line: 'production-line-b', position: 2 },
    { id: 'quality-station-002', kind: 'QualityStation', line: 'production-line-b', position: 3 },
  ],
};

/** Readings a second each machine sends unless told otherwise (the simulator, `npm start`); infra/ sizes the IoT Hub for it. */
export const DEFAULT_READINGS_PER_SECOND = 1;

/** `devices` pieces of equipment spread over lines of 50, alternating arms and conveyors. */
export function fleetPlant(devices: number): PlantDescription {
  const lines = Math.max(1, Math.ceil(devices / 50));
  return {
    factory: DEFAULT_PLANT.factory,
    lines: Array.from({ length: lines }, (_, l) => ({ id: `fleet-line-${l}`, name: `Fleet line ${l}`, product: 'gearbox', targetUnitsPerHour: 100 })),
    equipment: Array.from({ length: devices }, (_, i) => ({
      id: `${i % 2 === 0 ? 'fleet-arm' : 'fleet-conveyor'}-${String(i).padStart(4, '0')}`,
      kind: i % 2 === 0 ? 'RoboticArm' : 'Conveyor',
      line: `fleet-line-${Math.floor(i / 50)}`,
      position: i % 50,
    })),
  };
}
