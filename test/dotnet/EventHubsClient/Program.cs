// Reads and checkpoints a partition of the local Event Hubs endpoint the way the Functions host's
// Event Hubs extension does: Azure.Messaging.EventHubs over AMQP, checkpoints as blobs with
// `sequencenumber` and `offset` metadata in AzureWebJobsStorage's azure-webjobs-eventhub container.
//   EventHubsClient <event hubs connection string> <hub> <storage connection string> <partition> <count>
// Prints one JSON object: the hub's partitions (also asked for all at once), where it started, what it read, the checkpoint it wrote.
using System.Text.Json;
using Azure.Messaging.EventHubs;
using Azure.Messaging.EventHubs.Consumer;
using Azure.Messaging.EventHubs.Producer;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

var (connection, hub, storage, partition, count) = (args[0], args[1], args[2], args[3], int.Parse(args[4]));
using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
var container = new BlobContainerClient(storage, "azure-webjobs-eventhub");

await using var consumer = new EventHubConsumerClient(EventHubConsumerClient.DefaultConsumerGroupName, connection, hub);
var properties = await consumer.GetEventHubPropertiesAsync(timeout.Token);
var partitionProperties = await consumer.GetPartitionPropertiesAsync(partition, timeout.Token);
// Every partition's properties at once, as a host balancing partitions asks: requests in flight
// together on one $management link.
var concurrent = await Task.WhenAll(Enumerable.Range(0, 5).SelectMany(_ => properties.PartitionIds).Select(id => consumer.GetPartitionPropertiesAsync(id, timeout.Token)));
var blob = container.GetBlobClient($"{consumer.FullyQualifiedNamespace}/{hub}/{consumer.ConsumerGroup}/checkpoint/{partition}".ToLowerInvariant());

// Where the consumer group stands: the checkpoint another host (the Node trigger) wrote, if any.
long? checkpoint = null;
if (await blob.ExistsAsync(timeout.Token))
{
    var metadata = (await blob.GetPropertiesAsync(cancellationToken: timeout.Token)).Value.Metadata;
    if (metadata.TryGetValue("sequencenumber", out var seq)) checkpoint = long.Parse(seq);
}
var start = checkpoint is long c ? EventPosition.FromSequenceNumber(c, isInclusive: false) : EventPosition.Earliest;

var read = new List<object>();
PartitionEvent last = default;
await foreach (var e in consumer.ReadEventsFromPartitionAsync(partition, start, timeout.Token))
{
    if (e.Data is null) continue;
    last = e;
    e.Data.SystemProperties.TryGetValue("iothub-connection-device-id", out var device);
    // The names a function's systemPropertiesArray carries: the host hands SystemProperties on.
    var systemProperties = e.Data.SystemProperties.ToDictionary(p => p.Key, p => p.Value?.ToString());
    read.Add(new { sequenceNumber = e.Data.SequenceNumber, offset = e.Data.OffsetString, partitionKey = e.Data.PartitionKey, enqueued = e.Data.EnqueuedTime, body = Convert.ToBase64String(e.Data.EventBody.ToArray()), device, systemProperties });
    if (read.Count >= count) break;
}

// Checkpoint what was read, in the blob layout the host and the other SDKs share.
var written = new Dictionary<string, string> { ["sequencenumber"] = last.Data!.SequenceNumber.ToString(), ["offset"] = last.Data.OffsetString };
try { await blob.SetMetadataAsync(written, cancellationToken: timeout.Token); }
catch (Azure.RequestFailedException ex) when (ex.Status == 404) { await blob.UploadAsync(BinaryData.FromString(""), new BlobUploadOptions { Metadata = written }, timeout.Token); }

// And a send, to the partition a key picks, which the Node side reads back.
await using (var producer = new EventHubProducerClient(connection, hub))
{
    using var batch = await producer.CreateBatchAsync(new CreateBatchOptions { PartitionKey = "dotnet-client" }, timeout.Token);
    batch.TryAdd(new EventData(BinaryData.FromString("{\"from\":\"dotnet\"}")));
    await producer.SendAsync(batch, timeout.Token);
}

Console.WriteLine(JsonSerializer.Serialize(new { partitionIds = properties.PartitionIds, lastEnqueuedSequenceNumber = partitionProperties.LastEnqueuedSequenceNumber, concurrentPartitionQueries = concurrent.Length, startedAfter = checkpoint, read, checkpointWritten = written }));
