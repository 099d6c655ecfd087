// The control API's commands by name, and the parsing of one request line into its command record.
//
// The names come from the [JsonDerivedType] list on ControlRequest (through the source-generated
// metadata), so no other place spells them. A request is read in two steps: its "command" is looked
// up first, so that a missing or unknown command gets the answers it always got ("request has no
// command", "unknown command 'x' (known: ...)") rather than a serializer message; then the whole
// object is read as that command's record, which rejects any field the command does not take.
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Switchyard.Engine.Control;

public static class ControlCommands
{
    private static readonly Dictionary<Type, string> NamesByType = [];
    private static readonly HashSet<string> Known = new(StringComparer.Ordinal);
    private static readonly List<string> InOrder = [];

#pragma warning disable CA1810 // One pass over the generated metadata fills all three tables.
    static ControlCommands()
#pragma warning restore CA1810
    {
        JsonPolymorphismOptions options = ControlJson.Default.ControlRequest.PolymorphismOptions
            ?? throw new InvalidOperationException("ControlRequest lost its [JsonPolymorphic] metadata");
        foreach (JsonDerivedType derived in options.DerivedTypes)
        {
            string name = (string)derived.TypeDiscriminator!;
            NamesByType.Add(derived.DerivedType, name);
            Known.Add(name);
            InOrder.Add(name);
        }
    }

    /// <summary>Every command the daemon answers, in the order docs/control-api.md lists them.</summary>
    public static IReadOnlyList<string> Names => InOrder;

    /// <summary>The wire name of a command record's type.</summary>
    public static string NameOf(Type commandType) =>
        NamesByType.TryGetValue(commandType, out string? name)
            ? name
            : throw new InvalidOperationException($"{commandType.Name} is not in ControlRequest's [JsonDerivedType] list");

    /// <summary>Reads one request line. Returns null with <paramref name="error"/> set to the answer a
    /// client gets: malformed JSON or a field the command does not take, no command, an unknown command.</summary>
    public static ControlRequest? Parse(ReadOnlySpan<byte> line, out string? error)
    {
        error = null;
        switch (FindCommand(line, out string? name))
        {
            case CommandField.Missing:
                error = "request has no command";
                return null;
            case CommandField.Named when string.IsNullOrEmpty(name):
                error = "request has no command";
                return null;
            case CommandField.Named when !Known.Contains(name):
                error = $"unknown command '{name}' (known: {string.Join(", ", InOrder)})";
                return null;
        }

        // A known command, or a line the reader could not make sense of: the serializer says why.
        try
        {
            ControlRequest? request = JsonSerializer.Deserialize(line, ControlJson.Default.ControlRequest);
            if (request is null)
            {
                error = "request has no command";
            }

            return request;
        }
        catch (JsonException ex)
        {
            error = $"malformed request: {ex.Message}";
            return null;
        }
    }

    private enum CommandField
    {
        Named,
        Missing,
        Unreadable,
    }

    // The top-level "command" string of a JSON object, without reading the rest into anything.
    private static CommandField FindCommand(ReadOnlySpan<byte> line, out string? name)
    {
        name = null;
        var reader = new Utf8JsonReader(line);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return CommandField.Unreadable;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isCommand = reader.ValueTextEquals("command"u8);
                if (!reader.Read())
                {
                    return CommandField.Unreadable;
                }

                if (isCommand)
                {
                    switch (reader.TokenType)
                    {
                        case JsonTokenType.String:
                            name = reader.GetString();
                            return CommandField.Named;
                        case JsonTokenType.Null:
                            return CommandField.Named;
                        default:
                            return CommandField.Unreadable;
                    }
                }

                reader.Skip();
            }

            return reader.TokenType == JsonTokenType.EndObject ? CommandField.Missing : CommandField.Unreadable;
        }
        catch (JsonException)
        {
            return CommandField.Unreadable;
        }
    }
}
