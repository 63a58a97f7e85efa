/** A count in words for messages people read: "1 reading", "3 readings" (`many` for irregular plurals). */
export const counted = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
