# Applies a list of URL Rewrite changes the controller computed (as data:
# add_rule, remove_rule, delete_entry, add_precondition, remove_precondition)
# to the web.config files of Default Web Site and its applications.
# First it copies every one of those files, with a timestamp, into a backup
# folder on this server. If any change fails, it copies the backup back, so
# a half-applied list never stays behind, and says so in the error.
# Values become XML attributes through the DOM; nothing is parsed as code.
param($HostArgs)

$siteName = 'Default Web Site'
$backupRoot = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\config\onprem.exchange\rewrite-backups'
$keepBackups = 20

function Get-ConfigPlace {
    $site = Get-Website -Name $siteName
    if ($null -eq $site) {
        throw ('IIS has no site named {0} on this server.' -f $siteName)
    }
    $places = @([ordered]@{ path = ''; file = Join-Path -Path ([Environment]::ExpandEnvironmentVariables([string]$site.PhysicalPath)) -ChildPath 'web.config' })
    foreach ($application in Get-WebApplication -Site $siteName) {
        $physical = [Environment]::ExpandEnvironmentVariables([string]$application.PhysicalPath)
        $places += [ordered]@{ path = [string]$application.Path; file = Join-Path -Path $physical -ChildPath 'web.config' }
    }
    $places
}

function New-RewriteBackup {
    param($Places, [string]$Reason)
    $stamp = (Get-Date).ToUniversalTime()
    $existing = @(Get-ChildItem -LiteralPath $backupRoot -Directory -ErrorAction SilentlyContinue).Count
    $id = '{0}-{1:000}' -f $stamp.ToString('yyyyMMddTHHmmssZ'), ($existing + 1)
    $folder = Join-Path -Path $backupRoot -ChildPath $id
    New-Item -Path $folder -ItemType Directory -Force | Out-Null
    $files = @()
    $index = 0
    foreach ($place in $Places) {
        $index++
        $record = [ordered]@{ path = $place.path; file = $place.file; existed = $false; copy = $null; sha256 = $null }
        if (Test-Path -LiteralPath $place.file) {
            $record.existed = $true
            $record.copy = '{0:000}.config' -f $index
            Copy-Item -LiteralPath $place.file -Destination (Join-Path -Path $folder -ChildPath $record.copy) -Force
            $record.sha256 = (Get-FileHash -LiteralPath $place.file -Algorithm SHA256).Hash.ToLowerInvariant()
        }
        $files += $record
    }
    $manifest = [ordered]@{ id = $id; time = $stamp.ToString('o'); reason = $Reason; files = $files }
    $json = ConvertTo-Json -InputObject $manifest -Depth 5
    [System.IO.File]::WriteAllText((Join-Path -Path $folder -ChildPath 'backup.json'), $json, (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false))
    # Keep the newest backups only; each is a few small files.
    $old = @(Get-ChildItem -LiteralPath $backupRoot -Directory | Sort-Object -Property Name)
    if ($old.Count -gt $keepBackups) {
        $old | Select-Object -First ($old.Count - $keepBackups) | Remove-Item -Recurse -Force
    }
    [ordered]@{ id = $id; time = $manifest.time; path = $folder; files = $files }
}

function Restore-RewriteBackup {
    param($Backup)
    foreach ($record in $Backup.files) {
        if ($record.existed) {
            Copy-Item -LiteralPath (Join-Path -Path $Backup.path -ChildPath $record.copy) -Destination $record.file -Force
        }
        elseif (Test-Path -LiteralPath $record.file) {
            Remove-Item -LiteralPath $record.file -Force
        }
    }
}

function Get-CollectionNode {
    param($Document, [string]$Collection, [bool]$Create)
    $chain = @('system.webServer', 'rewrite')
    if ($Collection -eq 'inbound') {
        $chain += 'rules'
    }
    elseif ($Collection -eq 'outbound') {
        $chain += 'outboundRules'
    }
    elseif ($Collection -eq 'preconditions') {
        $chain += 'outboundRules', 'preConditions'
    }
    else {
        throw ('Unknown rule collection {0}.' -f $Collection)
    }
    $node = $Document.DocumentElement
    foreach ($name in $chain) {
        $next = $node.SelectSingleNode($name)
        if ($null -eq $next) {
            if (-not $Create) {
                return $null
            }
            $next = $node.AppendChild($Document.CreateElement($name))
        }
        $node = $next
    }
    $node
}

function Add-ConditionElement {
    param($Document, $Parent, $Conditions)
    foreach ($condition in @($Conditions)) {
        $add = $Document.CreateElement('add')
        $add.SetAttribute('input', [string]$condition.input)
        $add.SetAttribute('pattern', [string]$condition.pattern)
        if ($condition.PSObject.Properties.Name -contains 'ignore_case' -and -not [bool]$condition.ignore_case) {
            $add.SetAttribute('ignoreCase', 'false')
        }
        if ($condition.PSObject.Properties.Name -contains 'negate' -and [bool]$condition.negate) {
            $add.SetAttribute('negate', 'true')
        }
        $Parent.AppendChild($add) | Out-Null
    }
}

function New-RuleElement {
    param($Document, $Rule, [string]$Collection)
    $element = $Document.CreateElement('rule')
    $element.SetAttribute('name', [string]$Rule.name)
    if (-not [bool]$Rule.enabled) {
        $element.SetAttribute('enabled', 'false')
    }
    if ([string]$Rule.precondition) {
        $element.SetAttribute('preCondition', [string]$Rule.precondition)
    }
    $element.SetAttribute('patternSyntax', [string]$Rule.pattern_syntax)
    if ([bool]$Rule.stop_processing) {
        $element.SetAttribute('stopProcessing', 'true')
    }
    $match = $Document.CreateElement('match')
    if ($Collection -eq 'outbound') {
        $match.SetAttribute('serverVariable', [string]$Rule.match.server_variable)
        $match.SetAttribute('pattern', [string]$Rule.match.pattern)
    }
    else {
        $match.SetAttribute('url', [string]$Rule.match.url)
    }
    $element.AppendChild($match) | Out-Null
    if (@($Rule.conditions).Count -gt 0) {
        $conditions = $Document.CreateElement('conditions')
        if ([string]$Rule.logical_grouping -and [string]$Rule.logical_grouping -ne 'MatchAll') {
            $conditions.SetAttribute('logicalGrouping', [string]$Rule.logical_grouping)
        }
        Add-ConditionElement -Document $Document -Parent $conditions -Conditions $Rule.conditions
        $element.AppendChild($conditions) | Out-Null
    }
    $action = $Document.CreateElement('action')
    $action.SetAttribute('type', [string]$Rule.action.type)
    if ([string]$Rule.action.value) {
        $action.SetAttribute('value', [string]$Rule.action.value)
    }
    $element.AppendChild($action) | Out-Null
    $element
}

function New-PreconditionElement {
    param($Document, $Precondition)
    $element = $Document.CreateElement('preCondition')
    $element.SetAttribute('name', [string]$Precondition.name)
    if ([string]$Precondition.logical_grouping -and [string]$Precondition.logical_grouping -ne 'MatchAll') {
        $element.SetAttribute('logicalGrouping', [string]$Precondition.logical_grouping)
    }
    $element.SetAttribute('patternSyntax', [string]$Precondition.pattern_syntax)
    Add-ConditionElement -Document $Document -Parent $element -Conditions $Precondition.conditions
    $element
}

function Find-Entry {
    param($Collection, [string]$LocalName, [string]$Name)
    if ($null -eq $Collection) {
        return $null
    }
    foreach ($child in $Collection.ChildNodes) {
        if ($child.NodeType -eq [System.Xml.XmlNodeType]::Element -and $child.LocalName -eq $LocalName -and $child.GetAttribute('name') -eq $Name) {
            return $child
        }
    }
    $null
}

function Invoke-RewriteChange {
    param($Change, $Places)
    $place = $Places | Where-Object { $_.path -eq [string]$Change.path } | Select-Object -First 1
    if ($null -eq $place) {
        throw ('{0} has no application {1}.' -f $siteName, [string]$Change.path)
    }
    $document = New-Object -TypeName System.Xml.XmlDocument
    $document.PreserveWhitespace = $true
    if (Test-Path -LiteralPath $place.file) {
        $document.Load($place.file)
    }
    else {
        $document.LoadXml('<?xml version="1.0" encoding="UTF-8"?><configuration></configuration>')
    }
    $op = [string]$Change.op
    if ($op -eq 'add_rule' -or $op -eq 'add_precondition') {
        if ($op -eq 'add_rule') {
            $collectionName = [string]$Change.collection
            $localName = 'rule'
            $entry = $Change.rule
        }
        else {
            $collectionName = 'preconditions'
            $localName = 'preCondition'
            $entry = $Change.precondition
        }
        $collection = Get-CollectionNode -Document $document -Collection $collectionName -Create $true
        if ($null -ne (Find-Entry -Collection $collection -LocalName $localName -Name ([string]$entry.name))) {
            throw ('Cannot add duplicate collection entry of type ''{0}'' with unique key attribute ''name'' set to ''{1}''' -f $localName, [string]$entry.name)
        }
        if ($op -eq 'add_rule') {
            $element = New-RuleElement -Document $document -Rule $entry -Collection $collectionName
        }
        else {
            $element = New-PreconditionElement -Document $document -Precondition $entry
        }
        # First in the collection, after any leading <remove>/<clear/>, so a
        # rule that stops processing cannot shadow it.
        $before = $null
        foreach ($child in $collection.ChildNodes) {
            if ($child.NodeType -eq [System.Xml.XmlNodeType]::Element -and @('remove', 'clear', 'preConditions', 'customTags') -notcontains $child.LocalName) {
                $before = $child
                break
            }
        }
        if ($null -ne $before) {
            $collection.InsertBefore($element, $before) | Out-Null
        }
        else {
            $collection.AppendChild($element) | Out-Null
        }
    }
    elseif ($op -eq 'remove_rule' -or $op -eq 'remove_precondition' -or $op -eq 'delete_entry') {
        if ($op -eq 'remove_rule') {
            $collectionName = [string]$Change.collection
            $localName = 'rule'
        }
        elseif ($op -eq 'remove_precondition') {
            $collectionName = 'preconditions'
            $localName = 'preCondition'
        }
        else {
            $collectionName = [string]$Change.collection
            $localName = 'remove'
        }
        $collection = Get-CollectionNode -Document $document -Collection $collectionName -Create $false
        $node = Find-Entry -Collection $collection -LocalName $localName -Name ([string]$Change.name)
        if ($null -eq $node) {
            throw ('No {0} named ''{1}'' in {2}.' -f $localName, [string]$Change.name, $place.file)
        }
        $collection.RemoveChild($node) | Out-Null
    }
    else {
        throw ('Unknown change ''{0}''.' -f $op)
    }
    $document.Save($place.file)
    $place.file
}

Import-Module -Name WebAdministration -ErrorAction Stop
$changes = @($HostArgs.changes)
if ($changes.Count -eq 0) {
    throw 'No changes were given.'
}
if (-not (Test-Path -LiteralPath (Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\rewrite.dll'))) {
    throw 'The IIS URL Rewrite module is not installed; IIS would reject a <rewrite> section and fail every request to the site.'
}
$places = @(Get-ConfigPlace)
$backup = New-RewriteBackup -Places $places -Reason ([string]$HostArgs.reason)
$steps = @([ordered]@{ step = 'backup'; id = $backup.id; path = $backup.path })
$number = 0
foreach ($change in $changes) {
    $number++
    try {
        $written = Invoke-RewriteChange -Change $change -Places $places
    }
    catch {
        $failure = $_.Exception.Message
        try {
            Restore-RewriteBackup -Backup $backup
        }
        catch {
            throw ('Change {0} of {1} ({2} at {3}{4}) failed: {5} Restoring backup {6} failed too: {7} Restore it before anything else.' -f $number, $changes.Count, [string]$change.op, $siteName, [string]$change.path, $failure, $backup.id, $_.Exception.Message)
        }
        throw ('Change {0} of {1} ({2} at {3}{4}) failed: {5} The configuration was restored from backup {6}.' -f $number, $changes.Count, [string]$change.op, $siteName, [string]$change.path, $failure, $backup.id)
    }
    $steps += [ordered]@{ step = [string]$change.op; path = [string]$change.path; file = $written; ok = $true }
}
$data = [ordered]@{
    backup = [ordered]@{ id = $backup.id; time = $backup.time; path = $backup.path }
    applied = $changes.Count
}
@{ changed = $true; data = $data; steps = $steps }
