# Runs one onprem.exchange host operation.
# The command line carries only this constant text; everything variable
# arrives on stdin as one JSON document {"operation", "script", "args"}, so no
# value from an inventory or a user is ever parsed as PowerShell code.
# Prints exactly one JSON object: {"ok", "changed", "data", "steps", "error"}.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0
$utf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
[Console]::OutputEncoding = $utf8
$result = [ordered]@{ ok = $false; changed = $false; data = $null; steps = @(); error = $null }
try {
    $rawInput = [Console]::In.ReadToEnd()
    if ([string]::IsNullOrWhiteSpace($rawInput)) {
        throw 'No operation was received on stdin.'
    }
    $request = ConvertFrom-Json -InputObject $rawInput
    $operation = [ScriptBlock]::Create([string]$request.script)
    $output = & $operation -HostArgs $request.args
    $result.ok = $true
    if ($null -ne $output) {
        $result.changed = [bool]$output.changed
        $result.data = $output.data
        if ($null -ne $output.steps) {
            $result.steps = @($output.steps)
        }
    }
}
catch {
    $result.error = [ordered]@{
        message = $_.Exception.Message
        type = $_.Exception.GetType().FullName
        line = $_.InvocationInfo.ScriptLineNumber
    }
}
[Console]::Out.Write((ConvertTo-Json -InputObject $result -Depth 12 -Compress))
