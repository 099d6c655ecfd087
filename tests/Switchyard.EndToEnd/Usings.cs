namespace Switchyard.EndToEnd;
